import assert from 'node:assert/strict';
import type { Credentials, SealedCredentials } from '../../lib/credentials.js';
import { SharedProvider, type NodeAddress } from '../../lib/mysql2/cluster-provider.js';
import type { CredentialsProvider, FetchContext } from '../../lib/provider.js';

const NO_ADDRESS: NodeAddress = { host: false, port: false, database: false };
const OWN_HOST: NodeAddress = { host: true, port: false, database: false };
const INITIAL: FetchContext = { reason: 'initial' };

/** A provider that returns `next`, and records what it is given. */
class RecordingProvider implements CredentialsProvider {
  readonly name = 'recording';
  next: Credentials = {
    user: 'app',
    password: 'password-1',
    host: 'writer.db',
    port: 3307,
    database: 'shop',
    expiresAt: 4_000_000_000_000,
  };
  readonly currents: Array<SealedCredentials | undefined> = [];
  readonly retired: SealedCredentials[] = [];
  closeCalls = 0;

  getCredentials(_signal: AbortSignal, current: SealedCredentials | undefined): Promise<Credentials> {
    this.currents.push(current);
    return Promise.resolve(this.next);
  }

  retire(credentials: SealedCredentials): void {
    this.retired.push(credentials);
  }

  close(): void {
    this.closeCalls += 1;
  }
}

function fetch(view: CredentialsProvider, current?: SealedCredentials): Promise<SealedCredentials> {
  return view.getCredentials(new AbortController().signal, current, INITIAL) as Promise<SealedCredentials>;
}

describe('SharedProvider (one provider for several cluster nodes)', () => {
  it("keeps the node's own host and port over the provider's, and the rest of the credentials", async () => {
    const source = new RecordingProvider();
    const shared = new SharedProvider(source, false);
    const own = await fetch(shared.view(OWN_HOST));
    assert.equal(own.user, 'app');
    assert.equal(own.password, 'password-1');
    assert.equal(own.host, undefined);
    assert.equal(own.port, undefined, "a node's own host comes with its own port");
    assert.equal(own.database, 'shop');
    assert.equal(own.expiresAt, source.next.expiresAt);
    const plain = await fetch(shared.view(NO_ADDRESS));
    assert.equal(plain.host, 'writer.db');
    assert.equal(plain.port, 3307);
  });

  it('gives the provider back the credentials it returned, not the node’s copy', async () => {
    const source = new RecordingProvider();
    const view = new SharedProvider(source, false).view({ host: true, port: true, database: true });
    const own = await fetch(view);
    await fetch(view, own);
    assert.equal(source.currents[1]?.host, 'writer.db');
    assert.equal(source.currents[1]?.database, 'shop');
  });

  it('retires credentials only once every node given them has retired them', async () => {
    const source = new RecordingProvider();
    const shared = new SharedProvider(source, false);
    const a = shared.view(OWN_HOST);
    const b = shared.view(NO_ADDRESS);
    const fromA = await fetch(a);
    const fromB = await fetch(b);
    await a.retire!(fromA);
    assert.equal(source.retired.length, 0, 'node b still uses them');
    await b.retire!(fromB);
    assert.equal(source.retired.length, 1);
    assert.equal(source.retired[0].host, 'writer.db', 'the provider gets its own credentials back');
    await b.retire!(fromB);
    assert.equal(source.retired.length, 1, 'retired once');
  });

  it('retires credentials another node retired when the last node holding them ends', async () => {
    const source = new RecordingProvider();
    const shared = new SharedProvider(source, false);
    const a = shared.view(NO_ADDRESS);
    const b = shared.view(NO_ADDRESS);
    await a.retire!(await fetch(a));
    await fetch(b);
    await b.close!();
    assert.equal(source.retired.length, 1);
  });

  it('never retires credentials that no node retired, even when every node ended', async () => {
    const source = new RecordingProvider();
    const shared = new SharedProvider(source, false);
    const a = shared.view(NO_ADDRESS);
    await fetch(a);
    await a.close!();
    assert.equal(source.retired.length, 0, 'close() covers the credentials in use at the end');
    assert.equal(source.closeCalls, 1);
  });

  it("closes a nodes' provider once, when the last node ends", async () => {
    const source = new RecordingProvider();
    const shared = new SharedProvider(source, false);
    const a = shared.view(NO_ADDRESS);
    const b = shared.view(NO_ADDRESS);
    await a.close!();
    assert.equal(source.closeCalls, 0);
    await a.close!();
    assert.equal(source.closeCalls, 0, 'a node ending twice does not count twice');
    await b.close!();
    assert.equal(source.closeCalls, 1);
    assert.equal(shared.closed, true);
  });

  it("leaves the cluster's own provider open until the cluster closes it", async () => {
    const source = new RecordingProvider();
    const shared = new SharedProvider(source, true);
    const a = shared.view(NO_ADDRESS);
    await a.close!();
    assert.equal(source.closeCalls, 0);
    await Promise.all([shared.close(), shared.close()]);
    assert.equal(source.closeCalls, 1);
  });

  it('reports a node that was never created as unused only for a provider the nodes own', () => {
    let unused = 0;
    const owned = new SharedProvider(new RecordingProvider(), false);
    owned.forget(owned.view(NO_ADDRESS), () => (unused += 1));
    assert.equal(unused, 1);
    const clusters = new SharedProvider(new RecordingProvider(), true);
    clusters.forget(clusters.view(NO_ADDRESS), () => (unused += 1));
    assert.equal(unused, 1);
  });
});
