import type { ReactNode } from 'react';

/** A titled card on a page; `actions` sit at the right of the title. */
export function Section({ title, id, description, actions, children }: { title: string; id?: string; description?: ReactNode; actions?: ReactNode; children: ReactNode }) {
  const headingId = id ? `${id}-title` : undefined;
  return (
    <section className="card" id={id} aria-labelledby={headingId}>
      <div className="card-header">
        <div className="card-heading">
          <h2 id={headingId}>{title}</h2>
          {description && <p className="card-description">{description}</p>}
        </div>
        {actions && <div className="card-actions">{actions}</div>}
      </div>
      <div className="card-body">{children}</div>
    </section>
  );
}

export function PageHeader({ title, kicker, children }: { title: string; kicker?: ReactNode; children?: ReactNode }) {
  return (
    <header className="page-header">
      {kicker && <p className="page-kicker">{kicker}</p>}
      <h1 id="page-title" tabIndex={-1}>{title}</h1>
      {children && <div className="page-intro">{children}</div>}
    </header>
  );
}
