/**
 * The web UI's build. Run from the package root as `vite build web` (npm run build does), or
 * `vite web` for a development server that forwards /api and /ngp to a Census on 8443.
 */
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

export default defineConfig({
  plugins: [react()],
  // Relative to this folder (the Vite root): web/dist, served by src/api/web.ts.
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: true,
    // Everything stays in files under /assets/: nothing inline, so the strict CSP holds.
    assetsInlineLimit: 0,
  },
  server: {
    proxy: {
      '/api': { target: 'https://127.0.0.1:8443', secure: false },
      '/ngp': { target: 'https://127.0.0.1:8443', secure: false },
    },
  },
});
