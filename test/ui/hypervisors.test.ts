/**
 * Manage Protection › Hypervisors in real headless Chromium against a real Census over HTTPS:
 * one page per hypervisor type (KVM, VMware vSphere) under the menu's Hypervisors heading;
 * register a KVM host in the UI, watch the Run Inventory button (job 1005) turn into "Inventory
 * In Progress" and back, see its VMs (paged, filtered) and the changes of the next run, test the
 * connection, edit and unregister; a Monitor sees the hypervisors and the running inventory but
 * no Register, Run Inventory, Test, Edit or Unregister. Last, the VMware vSphere page: its form
 * is made from the vmware collector's info (a TLS mode defaulting to verify, no URI, no SSH key),
 * and a vCenter registered there — govmomi's simulator (test/support/vcsim.ts), read by the real
 * vmware collector — shows its VMs on that page only.
 *
 * The `kvm` collector here is a STAND-IN for libvirt (as in test/hypervisors.test.ts), passed in
 * through the injectable registry: it answers from a table in this file, so VMs can change
 * between runs, and it waits on a gate the test opens, which holds a run open deterministically.
 * The real collector against libvirtd is tested in src/collectors/kvm/. No sleeps: every wait is
 * for something on screen or in the API, with a deadline.
 */
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collectorRegistry } from '../../src/collectors/registry.ts';
import { CollectorError, type CollectedDatabase, type Collector, type CollectTarget } from '../../src/collectors/types.ts';
import { ADMIN_PASSWORD, startTestServer, waitFor, type TestServer } from '../support/server.ts';
import { startVcsim, type Vcsim } from '../support/vcsim.ts';
import { ensureChromium, ensureUiBuilt, launchBrowser, logIn, openTab, pageErrors, screenshot, type Tab } from './browser.ts';

const PAGE = '/manage-protection/hypervisors/kvm';
const VMWARE_PAGE = '/manage-protection/hypervisors/vmware';
const SSH_PASSWORD = 'kvm-ssh-Secret-7';
const MONITOR = 'hv.monitor';
const MONITOR_PASSWORD = 'Hv-Monitor-Pass-1';
const MONITOR_NEW = 'Hv-Monitor-Pass-2';

/** What each stand-in host has: its VMs. */
const hosts = new Map<string, CollectedDatabase[]>();
/** The targets the stand-in was called with. */
const calls: CollectTarget[] = [];
/** While set, every collect() waits for it: a run held open. */
let gate: { promise: Promise<void>; open: () => void } | null = null;

function hold(): void {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => (open = resolve));
  gate = { promise, open };
}
function release(): void {
  gate?.open();
  gate = null;
}

const GIB = 2 ** 30;
const MIB = 2 ** 20;

const vm = (name: string, o: { state?: string; vcpus?: number; memoryBytes?: number } = {}): CollectedDatabase => {
  const disks = [{ target: 'vda', device: 'disk', bus: 'virtio', path: `/var/lib/libvirt/images/${name}.qcow2`, format: 'qcow2', virtualBytes: 10 * GIB, allocationBytes: 300 * MIB, physicalBytes: 300 * MIB }];
  return {
    name, owner: null, encoding: null, sizeBytes: 300 * MIB,
    properties: {
      uuid: `uuid-${name}`, state: o.state ?? 'running', vcpus: o.vcpus ?? 2, maxVcpus: 4, memoryBytes: o.memoryBytes ?? 2 * GIB, maxMemoryBytes: 4 * GIB,
      osType: 'hvm', arch: 'x86_64', machine: 'pc-q35-7.2', disks, interfaces: [],
    },
  };
};

const standIn: Collector = {
  applicationType: 'kvm',
  info: {
    type: 'kvm', displayName: 'KVM (libvirt)', serverNoun: 'KVM host', group: 'hypervisors', defaultPort: 22, childTypes: ['vm'],
    identityKinds: ['password', 'key'], tls: false, defaultUri: 'qemu:///system', checks: [{ name: 'connect', description: 'SSH to the host' }, { name: 'libvirt', description: 'Read libvirt' }],
  },
  async collect(target, options) {
    calls.push(target);
    if (gate) {
      const cancelled = new Promise<never>((_, reject) => options.signal.addEventListener('abort', () => reject(new CollectorError('CANCELLED', 'cancelled')), { once: true }));
      await Promise.race([gate.promise, cancelled]);
    }
    const vms = hosts.get(target.host);
    if (!vms) throw new CollectorError('REFUSED', `${target.name} (${target.host}): no such host`);
    return {
      instances: [{ name: target.host, host: target.host, port: target.port ?? 22, version: 'libvirt 9.0.0, QEMU 7.2.0', properties: {}, databases: vms }],
      warnings: [],
    };
  },
  async test(target) {
    const known = hosts.has(target.host);
    return [
      { name: 'connect', description: 'SSH to the host', status: known ? 'SUCCESS' : 'FAILED', ...(known ? {} : { message: `${target.host}: no such host` }) },
      { name: 'libvirt', description: 'Read libvirt', status: known ? 'SUCCESS' : 'SKIPPED' },
    ];
  },
};

/** The real collectors (vmware among them) but kvm, which is the stand-in, in kvm's place (the menu's order). */
const registry = collectorRegistry([...collectorRegistry().values()].map((c) => (c.info.type === 'kvm' ? standIn : c)));

describe('web UI: hypervisors', () => {
  let s: TestServer;
  let browser: Browser;
  let admin: Tab;
  let page: Page;
  let sid: string;
  let identityHref: string;
  let vc: Vcsim | undefined;

  const job = async () => (await s.req('GET', '/api/endeavour/job/1005', { sid })).json as { status: string; lastrun?: { sessionId: string; status: string } };
  const backup = (p: Page) => p.locator('#backup');
  const inventoryButton = (p: Page) => backup(p).getByRole('button', { name: /Run Inventory|Inventory In Progress|Starting/ });
  const hypervisorTable = (p: Page) => p.getByRole('table', { name: 'KVM hosts' });
  const vmTable = (p: Page) => p.getByRole('table', { name: 'Virtual machines' });
  const vmNames = async (p: Page) => vmTable(p).locator('tbody tr').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-vm')));
  /** Waits until the button reads `label` (and is enabled or disabled as that state is). */
  const buttonReads = async (p: Page, label: 'Run Inventory' | 'Inventory In Progress') =>
    waitFor(async () => {
      const b = inventoryButton(p);
      if ((await b.count()) !== 1 || (await b.textContent())?.trim() !== label) return undefined;
      return (await b.isEnabled()) === (label === 'Run Inventory') ? true : undefined;
    }, `the button to read ${label}`);

  beforeAll(async () => {
    ensureChromium();
    await ensureUiBuilt();
    hosts.set('10.0.0.1', [vm('web1'), vm('db1', { state: 'shut off' }), vm('cache1', { state: 'paused' })]);
    // Enough VMs for a second page (25 a page).
    hosts.set('10.0.0.2', Array.from({ length: 27 }, (_, n) => vm(`batch-${String(n + 1).padStart(2, '0')}`)));
    s = await startTestServer({ collectors: registry, taskTimeoutMs: 60_000 });
    sid = await s.login();
    const ident = await s.req('POST', '/api/identity/user', { sid, body: { name: 'kvm root', username: 'root', password: 'stored-Secret-9' } });
    expect(ident.status, ident.text).toBe(201);
    identityHref = ident.json.links.self.href;
    const mon = await s.req('POST', '/api/security/user', { sid, body: { name: MONITOR, password: MONITOR_PASSWORD, permissions: [{ resourcePoolId: 1000, roleIds: [1002] }] } });
    expect(mon.status, mon.text).toBe(201);
    browser = await launchBrowser();
    admin = await openTab(browser);
    page = admin.page;
  }, 600_000);

  afterAll(async () => {
    release();
    await browser?.close();
    await Promise.all([s?.stop(), vc?.stop()]);
  }, 60_000);

  it('leads from the menu to the KVM page, with the Hypervisor Inventory button and nothing registered', async () => {
    await page.goto(s.url + '/jobs');
    await logIn(page, 'admin', ADMIN_PASSWORD);
    await page.waitForURL(s.url + '/jobs');
    // Two hypervisor types: Hypervisors is a heading over a link per type, as Databases is.
    const nav = page.getByRole('navigation', { name: 'Main' });
    const types = nav.getByRole('list', { name: 'Hypervisors' });
    await types.getByRole('link', { name: 'VMware vSphere' }).waitFor();
    expect(await types.getByRole('link').allTextContents()).toEqual(['KVM (libvirt)', 'VMware vSphere']);
    expect(await nav.getByRole('link', { name: 'Hypervisors', exact: true }).count()).toBe(0);
    await types.getByRole('link', { name: 'KVM (libvirt)' }).click();
    await page.waitForURL(s.url + PAGE);
    await page.getByRole('heading', { level: 1, name: 'KVM (libvirt)' }).waitFor();
    await page.getByText('Manage Protection › Hypervisors').waitFor();
    expect(await types.getByRole('link', { name: 'KVM (libvirt)' }).getAttribute('aria-current')).toBe('page');
    await backup(page).getByText('The Hypervisor Inventory job connects to every registered hypervisor').waitFor();
    await buttonReads(page, 'Run Inventory');
    await page.getByText('No KVM hosts are registered.').waitFor();
    await page.getByText('No virtual machines have been inventoried yet.').waitFor();
    // The group's own address leads to its first type's page.
    await page.goto(s.url + '/manage-protection/hypervisors');
    await page.waitForURL(s.url + PAGE);
    await page.getByRole('heading', { level: 1, name: 'KVM (libvirt)' }).waitFor();
  });

  it('registers a KVM host with a new password; its inventory holds the button at Inventory In Progress, then shows its VMs', async () => {
    await page.getByRole('button', { name: 'Register KVM host' }).click();
    const form = page.locator('form[data-form="hypervisor-form"]');
    expect(await form.getByLabel('SSH port').inputValue()).toBe('22');
    expect(await form.getByLabel('Connection URI').inputValue()).toBe('qemu:///system');
    // kvm takes no TLS mode; it takes SSH keys.
    expect(await form.getByLabel('TLS').count()).toBe(0);
    await form.getByRole('radio', { name: 'A new SSH key' }).waitFor();
    // The form checks before posting: no host, no password.
    await form.getByRole('button', { name: 'Register' }).click();
    await form.getByRole('alert').filter({ hasText: 'Enter the host name or IP address.' }).waitFor();
    await form.getByLabel('Name (optional)').fill('kvm1');
    await form.getByLabel('Host name or IP address').fill('10.0.0.1');
    await form.getByRole('radio', { name: 'A new password' }).check();
    await form.getByLabel('SSH user').fill('virt');
    await form.getByRole('button', { name: 'Register' }).click();
    await form.getByRole('alert').filter({ hasText: 'Enter the SSH password.' }).waitFor();
    await form.getByLabel('SSH password').fill(SSH_PASSWORD);
    await form.getByLabel('Site').waitFor();
    expect(await form.getByLabel('Site').locator('option:checked').textContent()).toBe('Primary');

    hold();
    await form.getByRole('button', { name: 'Register' }).click();
    await page.getByRole('status').filter({ hasText: 'Registered kvm1 (10.0.0.1:22). Its inventory has started.' }).waitFor();
    await hypervisorTable(page).getByRole('rowheader', { name: 'kvm1' }).waitFor();
    // The registration started job 1005: the button is grayed out while the run waits at the gate.
    await buttonReads(page, 'Inventory In Progress');
    expect((await job()).status).toBe('RUNNING');
    await backup(page).getByRole('link', { name: 'Watch the running session' }).waitFor();
    await screenshot(page, 'hypervisors-inventory-in-progress');

    release();
    await buttonReads(page, 'Run Inventory');
    await waitFor(async () => ((await vmNames(page)).join() === 'cache1,db1,web1' ? true : undefined), 'the three VMs to be listed');
    // The stand-in got the login typed here and the default URI (not sent: the server's default).
    expect(calls.at(-1)).toMatchObject({ host: '10.0.0.1', username: 'virt', password: SSH_PASSWORD });
    expect(calls.at(-1)?.uri ?? null).toBeNull();
    const web1 = vmTable(page).locator('tr[data-vm="web1"]');
    expect(await web1.locator('td[data-label="Hypervisor"]').textContent()).toBe('kvm1');
    expect(await web1.locator('td[data-label="Power state"] .badge').getAttribute('data-status')).toBe('POWERED_ON');
    expect(await web1.locator('td[data-label="vCPUs"]').textContent()).toBe('2');
    expect(await web1.locator('td[data-label="Memory"]').textContent()).toBe('2.00 GiB');
    expect(await web1.locator('td[data-label="Committed"]').textContent()).toBe('300 MiB');
    expect(await web1.locator('td[data-label="Uncommitted"]').textContent()).toBe('9.71 GiB');
    await web1.locator('td[data-label="OS"]').getByText('Not known').waitFor();
    expect(await vmTable(page).locator('tr[data-vm="db1"] .badge').getAttribute('data-status')).toBe('POWERED_OFF');
    expect(await vmTable(page).locator('tr[data-vm="cache1"] .badge').getAttribute('data-status')).toBe('SUSPENDED');

    // The hypervisor's row: version from the inventory, site, VM count, last inventory.
    const row = hypervisorTable(page).locator('tr[data-hypervisor="kvm1"]');
    await row.getByText('libvirt 9.0.0, QEMU 7.2.0').waitFor();
    expect(await row.locator('td[data-label="Site"]').textContent()).toBe('Primary');
    await row.getByRole('button', { name: 'Show the 3 VMs of kvm1' }).waitFor();
    expect(await row.locator('td[data-label="Last inventory"] .badge').getAttribute('data-status')).toBe('COMPLETED');
    // The SSH password is nowhere in the page.
    expect(await page.content()).not.toContain(SSH_PASSWORD);
    await screenshot(page, 'hypervisors');
  }, 60_000);

  it('tests the connection and shows each check', async () => {
    await hypervisorTable(page).getByRole('button', { name: 'Test connection to kvm1' }).click();
    const result = page.locator('.test-result');
    await result.getByText('Connection test of kvm1').waitFor();
    expect(await result.locator('.check').evaluateAll((els) => els.map((e) => `${e.getAttribute('data-check')}:${e.querySelector('.badge')?.getAttribute('data-status')}`))).toEqual([
      'connect:SUCCESS', 'libvirt:SUCCESS',
    ]);
    await result.getByRole('button', { name: 'Hide' }).click();
    await result.waitFor({ state: 'detached' });
  });

  it('registers a second host with a stored login, then pages and filters the VMs on the server', async () => {
    await page.getByRole('button', { name: 'Register KVM host' }).click();
    const form = page.locator('form[data-form="hypervisor-form"]');
    await form.getByLabel('Name (optional)').fill('kvm2');
    await form.getByLabel('Host name or IP address').fill('10.0.0.2');
    await form.getByRole('radio', { name: 'A stored login' }).check();
    await form.getByLabel('Stored login', { exact: true }).selectOption({ label: 'kvm root (root, password)' });
    await form.getByLabel('Run an inventory of this hypervisor after registering it').uncheck();
    await form.getByRole('button', { name: 'Register' }).click();
    await page.getByRole('status').filter({ hasText: 'Registered kvm2 (10.0.0.2:22). Run an inventory to see its VMs.' }).waitFor();
    const registered = (await s.req('GET', '/api/hypervisor', { sid })).json.hypervisors.find((h: { name: string }) => h.name === 'kvm2');
    expect(registered.user.href).toBe(identityHref);
    expect((await job()).status).toBe('IDLE');

    // Run Inventory on this page runs job 1005 for both hosts.
    await buttonReads(page, 'Run Inventory');
    await inventoryButton(page).click();
    await buttonReads(page, 'Run Inventory');
    await hypervisorTable(page).getByRole('button', { name: 'Show the 27 VMs of kvm2' }).waitFor();
    expect(calls.some((c) => c.host === '10.0.0.2' && c.username === 'root' && c.password === 'stored-Secret-9')).toBe(true);

    // 30 VMs: 25 on the first page, the rest on the second (read from the server page by page).
    const pager = page.getByRole('navigation', { name: 'Virtual machine pages' });
    await pager.getByText('1–25 of 30').waitFor();
    expect((await vmNames(page)).length).toBe(25);
    let reads = 0;
    const count = (r: { url(): string }) => {
      if (r.url().includes('/api/endeavour/catalog/hypervisor/vm') && r.url().includes('pageStartIndex=25')) reads++;
    };
    page.on('request', count);
    await pager.getByRole('button', { name: 'Next' }).click();
    await pager.getByText('26–30 of 30').waitFor();
    page.off('request', count);
    expect(reads).toBeGreaterThan(0);
    expect(await vmNames(page)).toEqual(['batch-26', 'batch-27', 'cache1', 'db1', 'web1']);

    // The name filter (a part of the name) and the hypervisor's own VMs from its count.
    await page.getByLabel('Name contains').fill('WEB');
    await page.getByRole('search', { name: 'Filter the virtual machines' }).getByRole('button', { name: 'Filter' }).click();
    await waitFor(async () => ((await vmNames(page)).join() === 'web1' ? true : undefined), 'only web1');
    await hypervisorTable(page).getByRole('button', { name: 'Show the 27 VMs of kvm2' }).click();
    await pager.getByText('1–25 of 27').waitFor();
    expect(await page.getByLabel('Hypervisor', { exact: true }).inputValue()).toBe(registered.id);
    await page.getByRole('button', { name: 'Show all' }).click();
    await pager.getByText('1–25 of 30').waitFor();
  }, 60_000);

  it('shows what the next run changed: VMs appeared, disappeared and changed', async () => {
    hosts.set('10.0.0.1', [vm('web1', { vcpus: 4 }), vm('db1', { state: 'running' }), vm('app1')]);
    hold();
    await inventoryButton(page).click();
    await buttonReads(page, 'Inventory In Progress');
    await page.getByRole('heading', { name: 'Changes in the running inventory' }).waitFor();
    release();
    await buttonReads(page, 'Run Inventory');
    await page.getByRole('heading', { name: 'Changes in the last inventory' }).waitFor();
    const changes = page.getByRole('table', { name: 'Changes' });
    const rowOf = (name: string, change: string) => changes.locator('tbody tr').filter({ has: page.locator(`.badge[data-status="${change}"]`) }).filter({ hasText: name });
    await rowOf('app1', 'APPEARED').waitFor();
    await rowOf('cache1', 'DISAPPEARED').waitFor();
    await rowOf('web1', 'CHANGED').filter({ hasText: 'vcpus: 2 → 4' }).waitFor();
    await rowOf('db1', 'CHANGED').filter({ hasText: 'state: shut off → running' }).waitFor();
    expect(await rowOf('app1', 'APPEARED').locator('th').textContent()).toBe('VM app1');
    await waitFor(async () => ((await vmNames(page)).includes('app1') && !(await vmNames(page)).includes('cache1') ? true : undefined), 'the catalog to follow');
    await screenshot(page, 'hypervisors-changes');
  }, 60_000);

  it('edits a hypervisor in place and unregisters one after asking', async () => {
    const row = hypervisorTable(page).locator('tr[data-hypervisor="kvm2"]');
    await row.getByRole('button', { name: 'Edit kvm2' }).click();
    const form = page.locator('form[data-form="hypervisor-form"]');
    expect(await form.getByLabel('Host name or IP address').inputValue()).toBe('10.0.0.2');
    expect(await form.getByRole('radio', { name: 'Keep the current login' }).isChecked()).toBe(true);
    await form.getByLabel('Name (optional)').fill('kvm-two');
    await form.getByLabel('Connection URI').fill('test:///default');
    await form.getByRole('button', { name: 'Save' }).click();
    await page.getByRole('status').filter({ hasText: 'Saved kvm-two.' }).waitFor();
    await hypervisorTable(page).getByRole('rowheader', { name: 'kvm-two' }).waitFor();
    const after = (await s.req('GET', '/api/hypervisor', { sid })).json.hypervisors.find((h: { name: string }) => h.name === 'kvm-two');
    expect(after).toMatchObject({ hostAddress: '10.0.0.2', uri: 'test:///default', user: { href: identityHref } });

    const two = hypervisorTable(page).locator('tr[data-hypervisor="kvm-two"]');
    await two.getByRole('button', { name: 'Unregister kvm-two' }).click();
    const dialog = page.getByRole('dialog', { name: 'Unregister kvm-two?' });
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await dialog.waitFor({ state: 'detached' });
    await two.waitFor();
    await two.getByRole('button', { name: 'Unregister kvm-two' }).click();
    await page.getByRole('dialog', { name: 'Unregister kvm-two?' }).getByRole('button', { name: 'Unregister' }).click();
    await page.getByRole('status').filter({ hasText: 'Unregistered kvm-two.' }).waitFor();
    await two.waitFor({ state: 'detached' });
    // Its VMs left the catalog: three of kvm1's remain, on one page.
    await page.getByRole('navigation', { name: 'Virtual machine pages' }).getByText('1–3 of 3').waitFor();
    expect((await s.req('GET', `/api/hypervisor/${after.id}`, { sid })).status).toBe(404);
  }, 60_000);

  it('shows a Monitor the hypervisors and the running inventory, without Register, Run Inventory, Test, Edit or Unregister', async () => {
    // This run finds a new VM, so it has a change to show.
    hosts.set('10.0.0.1', [...hosts.get('10.0.0.1')!, vm('mon1')]);
    hold();
    expect((await s.req('POST', '/api/endeavour/job/1005?action=start', { sid })).status).toBe(200);
    await waitFor(async () => ((await job()).status === 'RUNNING' ? true : undefined), 'the inventory to run');

    const monitor = await openTab(browser);
    const p = monitor.page;
    await p.goto(s.url + PAGE);
    await p.waitForURL(/\/login\?next=/);
    await logIn(p, MONITOR, MONITOR_PASSWORD);
    await p.getByRole('heading', { name: 'Set a new password' }).waitFor();
    await p.getByLabel('New password', { exact: true }).fill(MONITOR_NEW);
    await p.getByLabel('Confirm new password').fill(MONITOR_NEW);
    await p.getByRole('button', { name: 'Set password and log in' }).click();
    await p.waitForURL(s.url + PAGE);

    await p.getByRole('heading', { level: 1, name: 'KVM (libvirt)' }).waitFor();
    await backup(p).getByRole('status').filter({ hasText: 'Inventory In Progress' }).waitFor();
    expect(await backup(p).getByRole('button').count()).toBe(0);
    await hypervisorTable(p).getByRole('rowheader', { name: 'kvm1' }).waitFor();
    await waitFor(async () => ((await vmNames(p)).length === 3 ? true : undefined), "kvm1's VMs");
    expect(await p.getByRole('button', { name: /^Register / }).count()).toBe(0);
    expect(await hypervisorTable(p).getByRole('button', { name: /^(Test connection to|Edit|Unregister) / }).count()).toBe(0);
    // VM changes need hypervisor.view, which a Monitor has (application servers' need application.view).
    await p.getByRole('heading', { name: 'Changes in the running inventory' }).waitFor();
    expect(await p.getByText("Your roles do not let you see the inventory's change history.").count()).toBe(0);
    await screenshot(p, 'hypervisors-monitor');

    release();
    await waitFor(async () => ((await job()).status === 'IDLE' ? true : undefined), 'the inventory to end');
    await backup(p).getByText('Inventory In Progress').waitFor({ state: 'detached' });
    await p.getByRole('heading', { name: 'Changes in the last inventory' }).waitFor();
    await p.getByRole('table', { name: 'Changes' }).locator('tbody tr').filter({ has: p.locator('.badge[data-status="APPEARED"]') }).filter({ hasText: 'mon1' }).waitFor();
    await monitor.context.close();
  }, 60_000);

  it('VMware vSphere has a page of its own: a form from its collector (TLS verify, no URI, no SSH key); a vCenter registered there shows its VMs', async () => {
    vc = await startVcsim({ clusterHosts: 1, vmsPerPool: 2 });
    const nav = page.getByRole('navigation', { name: 'Main' });
    await nav.getByRole('list', { name: 'Hypervisors' }).getByRole('link', { name: 'VMware vSphere' }).click();
    await page.waitForURL(s.url + VMWARE_PAGE);
    await page.getByRole('heading', { level: 1, name: 'VMware vSphere' }).waitFor();
    await page.getByText('No vCenters are registered.').waitFor();
    // The KVM page's VMs are not this page's.
    await page.getByText('No virtual machines have been inventoried yet.').waitFor();

    await page.getByRole('button', { name: 'Register vCenter' }).click();
    const form = page.locator('form[data-form="hypervisor-form"]');
    expect(await form.getByLabel('Port', { exact: true }).inputValue()).toBe('443');
    expect(await form.getByLabel('TLS').inputValue()).toBe('verify');
    await form.getByText('verify checks the certificate; require accepts a self-signed one.').waitFor();
    expect(await form.getByLabel('Connection URI').count()).toBe(0);
    expect(await form.getByRole('radio', { name: 'A new SSH key' }).count()).toBe(0);
    expect(await form.getByRole('radio', { name: 'A new password' }).isChecked()).toBe(true);
    await form.getByLabel('Name (optional)').fill('vc1');
    await form.getByLabel('Host name or IP address').fill(vc.host);
    await form.getByLabel('Port', { exact: true }).fill(String(vc.port));
    // vcsim's certificate is self-signed: require, not the default verify.
    await form.getByLabel('TLS').selectOption('require');
    await form.getByLabel('User name').fill(vc.username);
    await form.getByLabel('Password', { exact: true }).fill(vc.password);
    const posted = page.waitForRequest((r) => r.method() === 'POST' && new URL(r.url()).pathname === '/api/hypervisor');
    await form.getByRole('button', { name: 'Register' }).click();
    const body = (await posted).postDataJSON() as Record<string, unknown>;
    expect(body).toMatchObject({ type: 'vmware', hostAddress: vc.host, portNumber: vc.port, tls: 'require', username: vc.username, useKeyAuthentication: false });
    expect(body).not.toHaveProperty('uri');
    await page.getByRole('status').filter({ hasText: `Registered vc1 (${vc.host}:${vc.port}). Its inventory has started.` }).waitFor();

    // The real vmware collector reads the simulator: its VMs, on this page only.
    const vcRow = page.getByRole('table', { name: 'vCenters' }).locator('tr[data-hypervisor="vc1"]');
    await vcRow.getByText('TLS: require').waitFor();
    await vcRow.getByRole('button', { name: `Show the ${vc.expected.vms} VMs of vc1` }).waitFor({ timeout: 60_000 });
    await page.getByRole('navigation', { name: 'Virtual machine pages' }).getByText(`1–${vc.expected.vms} of ${vc.expected.vms}`).waitFor();
    const names = await vmNames(page);
    expect(names).toHaveLength(vc.expected.vms);
    expect(names).not.toContain('web1');
    expect(await vmTable(page).locator('td[data-label="Hypervisor"]').allTextContents()).toEqual(Array(vc.expected.vms).fill('vc1'));
    expect(await page.getByLabel('Hypervisor', { exact: true }).locator('option').allTextContents()).toEqual(['All vCenters', 'vc1']);
    expect(await page.content()).not.toContain(vc.password);
    await screenshot(page, 'hypervisors-vmware');

    // And the KVM page still lists only kvm1 and its four VMs.
    await nav.getByRole('link', { name: 'KVM (libvirt)' }).click();
    await page.waitForURL(s.url + PAGE);
    await page.getByRole('navigation', { name: 'Virtual machine pages' }).getByText('1–4 of 4').waitFor();
    expect(await hypervisorTable(page).locator('tbody tr').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-hypervisor')))).toEqual(['kvm1']);
  }, 120_000);

  it('left no errors in the browser console', () => {
    expect(pageErrors).toEqual([]);
  });
});
