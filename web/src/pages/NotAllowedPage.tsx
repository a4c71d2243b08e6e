/** A page the user's roles do not open: said plainly instead of a page of 403s. */
import { useEffect, type ReactNode } from 'react';
import type { PermissionId } from '../api/types';
import { Loading, Notice } from '../components/Feedback';
import { PageHeader } from '../components/Section';
import { useMe } from '../lib/me';

export function NotAllowedPage({ title, need }: { title: string; need: PermissionId }) {
  useEffect(() => {
    document.title = `${title} · Census`;
  }, [title]);
  return (
    <>
      <PageHeader title={title} />
      <Notice tone="warning">
        Your roles do not let you see this page (it needs the permission <code>{need}</code>). Ask an administrator if you need it.
      </Notice>
    </>
  );
}

/** Shows `children` when the user holds `need` (null: any logged-in user); otherwise says why not. */
export function Allowed({ need, title, children }: { need: PermissionId | null; title: string; children: ReactNode }) {
  const { known, can } = useMe();
  if (!known) return <Loading what="your permissions" />;
  return need === null || can(need) ? <>{children}</> : <NotAllowedPage title={title} need={need} />;
}
