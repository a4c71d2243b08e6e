/** The registered application servers of one type: register, test the connection, unregister. */
import { useState } from 'react';
import { del } from '../api/client';
import type { AppServer, ConnectionTest } from '../api/types';
import type { AppType } from '../lib/appTypes';
import { runConnectionTest } from '../lib/connectionTest';
import { useMe } from '../lib/me';
import type { Polled } from '../lib/usePolled';
import { ConfirmDialog } from './ConfirmDialog';
import { Empty, ErrorNotice, Loaded, Notice } from './Feedback';
import { RegisterForm } from './RegisterForm';
import { Pager } from './ResourceTable';
import { Section } from './Section';
import { TestResult } from './TestResult';

interface TestState {
  busy: boolean;
  result?: ConnectionTest;
  error?: unknown;
}

/** `servers`: one page of them (`page` counts from 1) and how many there are in all. */
export function AppServers({ app, servers, page, pageSize, onPage, onChanged }: {
  app: AppType; servers: Polled<{ items: AppServer[]; total: number }>; page: number; pageSize: number; onPage: (page: number) => void; onChanged: (inventoryStarted: boolean) => void;
}) {
  const [registering, setRegistering] = useState(false);
  const [done, setDone] = useState<string | null>(null);
  const [tests, setTests] = useState<Record<string, TestState>>({});
  const [confirm, setConfirm] = useState<AppServer | null>(null);
  const [removing, setRemoving] = useState(false);
  const [removeError, setRemoveError] = useState<unknown>(null);
  const { can } = useMe();

  const test = async (s: AppServer) => {
    setTests((t) => ({ ...t, [s.id]: { busy: true } }));
    try {
      const r = await runConnectionTest(s.links.test?.href ?? `/api/appserver/${s.id}?action=test`, { type: 'application' });
      setTests((t) => ({ ...t, [s.id]: { busy: false, result: r } }));
    } catch (err) {
      setTests((t) => ({ ...t, [s.id]: { busy: false, error: err } }));
    }
  };

  const unregister = async () => {
    if (!confirm) return;
    setRemoving(true);
    setRemoveError(null);
    try {
      await del(confirm.links.self?.href ?? `/api/appserver/${confirm.id}`);
      setDone(`Unregistered ${confirm.name}.`);
      setConfirm(null);
      onChanged(false);
    } catch (err) {
      setRemoveError(err);
    } finally {
      setRemoving(false);
    }
  };

  return (
    <Section
      title="Application servers"
      id="servers"
      description={`The ${app.servers} Census inventories.`}
      actions={
        !registering && can('appserver.register') && (
          <button type="button" className="btn btn-secondary" onClick={() => { setRegistering(true); setDone(null); }}>
            Register server
          </button>
        )
      }
    >
      {done && <Notice tone="success">{done}</Notice>}
      {registering && (
        <RegisterForm
          app={app}
          onCancel={() => setRegistering(false)}
          onRegistered={(s, inventoried) => {
            setRegistering(false);
            setDone(`Registered ${s.name} (${s.hostAddress}${s.portNumber ? `:${s.portNumber}` : ''}).${inventoried ? ' Its inventory has started.' : ' Run an inventory to see what it holds.'}`);
            onChanged(inventoried);
          }}
        />
      )}
      <Loaded state={servers} what="application servers">
        {({ items: list, total }) =>
          list.length === 0 && total === 0 ? (
            <Empty title={`No ${app.servers} are registered.`}>
              {!registering && can('appserver.register') && (
                <p>
                  Register one with <strong>Register server</strong>: Census needs its address and a login that may read its {app.items}.
                </p>
              )}
            </Empty>
          ) : (
            <div className="table-wrap">
              <table className="table table-stack" aria-label={app.servers}>
                <thead>
                  <tr>
                    <th scope="col">Name</th>
                    <th scope="col">Host</th>
                    <th scope="col">Port</th>
                    <th scope="col">Login</th>
                    <th scope="col" className="col-actions">
                      <span className="visually-hidden">Actions</span>
                    </th>
                  </tr>
                </thead>
                <tbody>
                  {list.map((s) => {
                    const t = tests[s.id];
                    return (
                      <ServerRow key={s.id} server={s} test={t} onTest={() => void test(s)} onHideTest={() => setTests((x) => ({ ...x, [s.id]: { busy: false } }))} onUnregister={() => { setRemoveError(null); setConfirm(s); }} />
                    );
                  })}
                </tbody>
              </table>
              <Pager label="Application server pages" page={page} pageSize={pageSize} total={total} onPage={onPage} />
            </div>
          )
        }
      </Loaded>
      {confirm && (
        <ConfirmDialog title={`Unregister ${confirm.name}?`} confirmLabel="Unregister" danger busy={removing} onCancel={() => setConfirm(null)} onConfirm={() => void unregister()}>
          <p>
            Census stops inventorying <strong>{confirm.hostAddress}{confirm.portNumber ? `:${confirm.portNumber}` : ''}</strong>. Job sessions and logs of earlier runs stay.
          </p>
          {removeError ? <ErrorNotice error={removeError} title="Could not unregister." /> : null}
        </ConfirmDialog>
      )}
    </Section>
  );
}

function ServerRow({ server: s, test: t, onTest, onHideTest, onUnregister }: { server: AppServer; test: TestState | undefined; onTest: () => void; onHideTest: () => void; onUnregister: () => void }) {
  const shown = t && (t.result || t.error);
  const { can } = useMe();
  return (
    <>
      <tr>
        <th scope="row">{s.name}</th>
        <td className="mono" data-label="Host">{s.hostAddress}</td>
        <td data-label="Port">{s.portNumber ?? <span className="muted">default</span>}</td>
        <td data-label="Login">{s.useKeyAuthentication ? 'SSH key' : 'Password'}</td>
        <td className="col-actions">
          <div className="row-actions">
            {can('appserver.edit') && (
              <button type="button" className="btn btn-secondary btn-small" onClick={onTest} disabled={t?.busy} aria-label={`Test connection to ${s.name}`}>
                {t?.busy ? 'Testing…' : 'Test connection'}
              </button>
            )}
            {can('appserver.deregister') && (
              <button type="button" className="btn btn-danger-outline btn-small" onClick={onUnregister} aria-label={`Unregister ${s.name}`}>
                Unregister
              </button>
            )}
          </div>
        </td>
      </tr>
      {shown && (
        <tr className="subrow">
          <td colSpan={5}>
            <TestResult title={`Connection test of ${s.name}`} error={t.error} checks={t.result?.configGroups[0]?.tests ?? []} onHide={onHideTest} />
          </td>
        </tr>
      )}
    </>
  );
}

