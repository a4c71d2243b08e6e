/**
 * A secret shown this once (a new API key, a webhook's signing secret), in a dialog that says it
 * will not be seen again, with a Copy button: the clipboard, or a selected field when the browser
 * gives no clipboard.
 */
import { useRef, useState, type ReactNode } from 'react';
import { Dialog } from './Dialog';
import { Notice } from './Feedback';

export function ShownOnce({ title, id, label, value, warning, hint, onClose }: { title: string; id: string; label: string; value: string; warning: ReactNode; hint: string; onClose: () => void }) {
  const input = useRef<HTMLInputElement>(null);
  const [copied, setCopied] = useState<'yes' | 'no' | null>(null);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(value);
      setCopied('yes');
    } catch {
      // No clipboard access (an insecure origin, or refused): select it for the person to copy.
      input.current?.select();
      setCopied(document.execCommand('copy') ? 'yes' : 'no');
    }
  };
  return (
    <Dialog
      title={title}
      onClose={onClose}
      actions={
        <button type="button" className="btn btn-primary" onClick={onClose}>
          Done
        </button>
      }
    >
      <Notice tone="warning">{warning}</Notice>
      <div className="field">
        <label htmlFor={id}>{label}</label>
        <div className="copy-row">
          <input id={id} ref={input} className="mono" value={value} readOnly onFocus={(e) => e.target.select()} spellCheck={false} />
          <button type="button" className="btn btn-secondary" onClick={() => void copy()} autoFocus>
            Copy
          </button>
        </div>
        <p className="field-hint" role="status">
          {copied === 'yes' ? 'Copied to the clipboard.' : copied === 'no' ? 'Could not copy: select it and copy it yourself.' : hint}
        </p>
      </div>
    </Dialog>
  );
}
