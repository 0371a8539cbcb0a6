/**
 * Throwaway servers: a private server process on a free loopback port with a directory of its
 * own, restarted in place and removed on stop. A flavour says how to run its binary; the rest
 * (ports, directories, lifecycle) is the same for every flavour.
 *
 * @packageDocumentation
 */

import type { ChildProcess } from 'node:child_process';
import { BaseServer, ROOT, type MariaDBServer, type ServerFlavour } from './admin.js';
import { createServerDir, removeServerDir, type ServerFiles } from './data-dir.js';
import { PortInUseError } from './errors.js';
import { freePort, LOOPBACK } from './ports.js';
import { terminate } from './process.js';

const PORT_ATTEMPTS = 5;
/** On restart, the port was just released: wait a little should something else grab it meanwhile. */
const RESTART_ARGS = ['--port-open-timeout=10'];

/** How a flavour runs its throwaway servers. */
export interface ThrowawayFlavour {
  /** The flavour's name, in directory names (`credswap-<name>-XXXXXX`) and as the servers' `flavour`. */
  readonly name: ServerFlavour;
  /** The template data directory each server starts from a copy of. */
  readonly template: string;
  /**
   * Starts the server on `port` with `files` and `extraArgs` after its own options, and resolves
   * once it answers `SELECT 1` as root (see `launch()`).
   */
  launch(files: ServerFiles, port: number, extraArgs: readonly string[]): Promise<ChildProcess>;
}

/**
 * Starts a throwaway server of `flavour` on a free port of 127.0.0.1, trying another port when
 * another process takes the one picked before the server binds it. Its directory is removed
 * again if it does not start.
 */
export async function startThrowawayServer(flavour: ThrowawayFlavour): Promise<MariaDBServer> {
  const files = await createServerDir(flavour.name, flavour.template);
  try {
    for (let attempt = 1; ; attempt++) {
      const port = await freePort();
      try {
        const child = await flavour.launch(files, port, []);
        return new ThrowawayServer(flavour, files, port, child);
      } catch (error) {
        // Another process took the port between freePort() and the server's bind: pick another.
        if (!(error instanceof PortInUseError) || attempt >= PORT_ATTEMPTS) throw error;
      }
    }
  } catch (error) {
    await removeServerDir(files);
    throw error;
  }
}

class ThrowawayServer extends BaseServer {
  readonly external = false;
  readonly flavour: ServerFlavour;
  private child: ChildProcess;
  /** Serialises restart() and stop(). */
  private lifecycle: Promise<void> = Promise.resolve();

  constructor(
    private readonly spec: ThrowawayFlavour,
    private readonly files: ServerFiles,
    port: number,
    child: ChildProcess,
  ) {
    super({ host: LOOPBACK, port, user: ROOT, password: '', url: `mysql://${ROOT}@${LOOPBACK}:${port}/` });
    this.flavour = spec.name;
    this.child = child;
  }

  restart(): Promise<void> {
    return this.serially(async () => {
      if (this.stopping !== undefined) throw new Error(`the server on ${this.host}:${this.port} is stopped`);
      await terminate(this.child);
      this.forgetAdminThreadIds();
      this.child = await this.spec.launch(this.files, this.port, RESTART_ARGS);
    });
  }

  stop(): Promise<void> {
    this.stopping ??= this.serially(async () => {
      this.closeAdminConnections();
      await terminate(this.child);
      await removeServerDir(this.files);
    });
    return this.stopping;
  }

  private serially(task: () => Promise<void>): Promise<void> {
    const result = this.lifecycle.then(task);
    this.lifecycle = result.catch(() => undefined);
    return result;
  }
}
