import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { LocalStack, type StackOptions } from './stack';
import { startVendorTestServers, stopVendorTestServers, vendorPoolsFor } from './vendor-servers';

export interface StackUpOptions extends Pick<
  StackOptions,
  'repoRoot' | 'stateDir' | 'projectId' | 'emulators' | 'prometheus' | 'serviceEnv' | 'backendModels' | 'log'
> {
  /** Run the Runway, Veo and Replicate pools against the vendors' protocol test servers. */
  vendorTestServers?: boolean;
}

/**
 * What `pnpm stack:up` starts: the local platform and, when asked, the vendor test servers with
 * the three vendor pools pointed at them. The servers are recorded in the stack's info, so
 * stopping the stack (or `stack:down`) stops them too.
 */
export async function stackUp(options: StackUpOptions): Promise<LocalStack> {
  const { vendorTestServers, ...stackOptions } = options;
  if (!vendorTestServers) return LocalStack.start(stackOptions);
  const stateDir = resolve(options.stateDir);
  const logsDir = join(stateDir, 'logs');
  mkdirSync(logsDir, { recursive: true, mode: 0o700 });
  options.log?.('starting the Runway, Veo and Replicate protocol test servers');
  const servers = await startVendorTestServers({ repoRoot: options.repoRoot, stateDir, logsDir });
  try {
    const stack = await LocalStack.start({ ...stackOptions, vendorPools: vendorPoolsFor(servers.info) });
    stack.info.vendorTestServers = servers.record;
    return stack;
  } catch (error) {
    await stopVendorTestServers(servers.record);
    throw error;
  }
}
