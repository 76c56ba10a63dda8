import type { Command } from 'commander';
import { emit } from './ops-context';
import { UsageError } from './qa-command';
import type { StackInfo, VendorBackend } from './stack';
import { clearReceived, readReceived, receivedText, VENDOR_SERVER_BACKENDS } from './vendor-servers';

/** `aiprod stack vendors …`: what the vendor protocol test servers of a local stack received. */
export function registerStackCommands(program: Command, readInfo: () => StackInfo | null): void {
  const stack = program.command('stack').description('the running local platform');
  const vendors = stack
    .command('vendors')
    .description("the vendors' protocol test servers of a stack started with --vendor-test-servers");

  const serversOf = () => {
    const info = readInfo();
    if (!info) throw new UsageError('no local platform is running: "pnpm stack:up --vendor-test-servers" first');
    if (!info.vendorTestServers) {
      throw new UsageError(
        'no vendor test servers run in this stack: it was started without --vendor-test-servers ' +
          '("pnpm stack:down", then "pnpm stack:up --vendor-test-servers")',
      );
    }
    return info.vendorTestServers;
  };
  const chosen = (vendor: string | undefined): VendorBackend[] => {
    if (vendor === undefined) return [...VENDOR_SERVER_BACKENDS];
    if (!(VENDOR_SERVER_BACKENDS as readonly string[]).includes(vendor)) {
      throw new UsageError(`unknown vendor "${vendor}": one of ${VENDOR_SERVER_BACKENDS.join(', ')}`);
    }
    return [vendor as VendorBackend];
  };

  vendors
    .command('received [vendor]')
    .description(
      'the create requests each server received (prompt, images as size and sha256, the answer), oldest first; ' +
        `vendor: ${VENDOR_SERVER_BACKENDS.join(', ')} (default all)`,
    )
    .option('--json', 'print one JSON document')
    .option('--clear', 'then empty the record(s), so the next look shows only what came after')
    .action(async (vendor: string | undefined, opts: { json?: boolean; clear?: boolean }) => {
      const which = chosen(vendor);
      const servers = serversOf();
      const received = Object.fromEntries(
        await Promise.all(which.map(async (v) => [v, await readReceived(servers, v)] as const)),
      ) as Partial<Record<VendorBackend, Awaited<ReturnType<typeof readReceived>>>>;
      emit(opts.json, { received }, () => which.map((v) => receivedText(v, received[v]!)).join('\n'));
      if (opts.clear) await Promise.all(which.map((v) => clearReceived(servers, v)));
    });
}
