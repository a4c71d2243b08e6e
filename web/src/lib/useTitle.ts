import { useEffect } from 'react';

/** Sets the tab's title to "<title> · Census" while the page is shown. */
export function useTitle(title: string): void {
  useEffect(() => {
    document.title = `${title} · Census`;
  }, [title]);
}
