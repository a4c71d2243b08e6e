/** The addresses of the UI's pages (history routing; the server answers each with index.html). */
export const PAGES = {
  postgresql: '/manage-protection/databases/postgresql',
  mysql: '/manage-protection/databases/mysql',
  file: '/manage-protection/file-systems',
  containers: '/manage-protection/containers',
  cloud: '/manage-protection/cloud-management',
  jobs: '/jobs',
} as const;
