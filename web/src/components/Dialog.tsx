/**
 * A modal with the browser's own <dialog>: focus stays inside, Escape closes it (unless busy),
 * and the first button has the focus. ConfirmDialog asks a yes/no question with it.
 */
import { useEffect, useRef, type ReactNode } from 'react';

export interface DialogProps {
  title: string;
  children: ReactNode;
  /** The buttons at the bottom, the safe one first. */
  actions: ReactNode;
  busy?: boolean;
  onClose: () => void;
}

export function Dialog({ title, children, actions, busy, onClose }: DialogProps) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const d = ref.current;
    if (d && !d.open) d.showModal();
    return () => d?.close();
  }, []);
  return (
    <dialog ref={ref} className="dialog" aria-labelledby="dialog-title" onCancel={(e) => { e.preventDefault(); if (!busy) onClose(); }}>
      <h2 id="dialog-title" className="dialog-title">{title}</h2>
      <div className="dialog-body">{children}</div>
      <div className="dialog-actions">{actions}</div>
    </dialog>
  );
}
