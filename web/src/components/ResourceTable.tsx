/**
 * The one table of records on the System Configuration pages (and the other lists): a caption
 * for screen readers, the first column as each row's header, a labelled cell per column (the
 * labels make the phone-width cards), and the row's buttons at the right. An empty list says so.
 */
import type { MouseEvent, ReactNode } from 'react';
import { Empty } from './Feedback';

export interface Column<T> {
  header: string;
  cell: (row: T) => ReactNode;
  className?: string;
  /** A sortable column: the header is a button that turns the order round. */
  sort?: { direction: 'ASC' | 'DESC'; onToggle: () => void };
}

export interface ResourceTableProps<T> {
  /** The table's accessible name, e.g. "Users". */
  label: string;
  rows: readonly T[];
  columns: readonly Column<T>[];
  rowKey: (row: T) => string;
  /** `data-*` attributes of a row, for tests and styling (e.g. `{ 'data-user': u.name }`). */
  rowData?: (row: T) => Record<`data-${string}`, string>;
  /** The row's buttons; null or false: none. */
  actions?: (row: T) => ReactNode;
  /** What an empty list says; without it an empty table is shown. */
  empty?: ReactNode;
  className?: string;
  /** A row that leads somewhere: its class (e.g. `row-link`) and what a click on it does. */
  rowClassName?: string;
  onRowClick?: (row: T, e: MouseEvent<HTMLTableRowElement>) => void;
}

function Header<T>({ column }: { column: Column<T> }) {
  const { sort } = column;
  if (!sort) return <th scope="col" className={column.className}>{column.header}</th>;
  const ascending = sort.direction === 'ASC';
  return (
    <th scope="col" className={column.className} aria-sort={ascending ? 'ascending' : 'descending'}>
      <button type="button" className="sort-button" onClick={sort.onToggle} aria-label={`${column.header}: ${ascending ? 'oldest first' : 'newest first'}; change the order`}>
        {column.header} <span aria-hidden="true">{ascending ? '▲' : '▼'}</span>
      </button>
    </th>
  );
}

export function ResourceTable<T>({ label, rows, columns, rowKey, rowData, actions, empty, className, rowClassName, onRowClick }: ResourceTableProps<T>) {
  if (rows.length === 0 && empty !== undefined) return typeof empty === 'string' ? <Empty title={empty} /> : <>{empty}</>;
  const [first, ...rest] = columns;
  return (
    <div className="table-wrap">
      <table className={`table table-stack${className ? ` ${className}` : ''}`} aria-label={label}>
        <thead>
          <tr>
            {columns.map((c) => (
              <Header key={c.header} column={c} />
            ))}
            {actions && (
              <th scope="col" className="col-actions">
                <span className="visually-hidden">Actions</span>
              </th>
            )}
          </tr>
        </thead>
        <tbody>
          {rows.map((row) => {
            const buttons = actions?.(row);
            return (
              <tr key={rowKey(row)} className={rowClassName} onClick={onRowClick && ((e) => onRowClick(row, e))} {...rowData?.(row)}>
                {first && <th scope="row" className={first.className}>{first.cell(row)}</th>}
                {rest.map((c) => (
                  <td key={c.header} data-label={c.header} className={c.className}>
                    {c.cell(row)}
                  </td>
                ))}
                {actions && <td className="col-actions">{buttons ? <div className="row-actions row-actions-wrap">{buttons}</div> : null}</td>}
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}

/** "21–40 of 95", Previous, "Page 2 of 5", Next. `page` counts from 1. */
export function Pager({ label, page, pageSize, total, onPage }: { label: string; page: number; pageSize: number; total: number; onPage: (page: number) => void }) {
  const pages = Math.max(1, Math.ceil(total / pageSize));
  const from = total === 0 ? 0 : (page - 1) * pageSize + 1;
  const to = Math.min(total, page * pageSize);
  return (
    <nav className="pager" aria-label={label}>
      <span className="pager-info">
        {from}–{to} of {total}
      </span>
      <button type="button" className="btn btn-secondary btn-small" disabled={page <= 1} onClick={() => onPage(page - 1)}>
        Previous
      </button>
      <span className="pager-page">
        Page {page} of {pages}
      </span>
      <button type="button" className="btn btn-secondary btn-small" disabled={page >= pages} onClick={() => onPage(page + 1)}>
        Next
      </button>
    </nav>
  );
}

/** A row's Edit and Delete buttons; a missing handler (not permitted) leaves its button out. */
export function EditDeleteButtons({ name, onEdit, onDelete, editDisabled }: { name: string; onEdit?: (() => void) | false; onDelete?: (() => void) | false; editDisabled?: boolean }) {
  return (
    <>
      {onEdit && (
        <button type="button" className="btn btn-secondary btn-small" disabled={editDisabled} onClick={onEdit} aria-label={`Edit ${name}`}>
          Edit
        </button>
      )}
      {onDelete && (
        <button type="button" className="btn btn-danger-outline btn-small" onClick={onDelete} aria-label={`Delete ${name}`}>
          Delete
        </button>
      )}
    </>
  );
}
