#!/usr/bin/env node
// The census command runs the compiled TypeScript (built by `npm install` through `prepare`).
import('../dist/cli/main.js').catch((err) => {
  if (err && err.code === 'ERR_MODULE_NOT_FOUND' && String(err.message).includes('dist/cli/main.js')) {
    console.error('census: not built yet; run `npm install` (or `npm run build`) first.');
    process.exit(1);
  }
  throw err;
});
