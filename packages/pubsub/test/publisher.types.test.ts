import path from 'node:path';
import ts from 'typescript';

/**
 * Who publishes what is typed from the catalogue: these tests compile small fixtures with the
 * repository's own compiler options and read the errors, so they fail if `Publisher<S>` ever
 * accepts a topic the catalogue does not list S as a publisher of.
 */
const ROOT = path.resolve(__dirname, '../../..');
// Never written to disk: the compiler host below serves it, so imports resolve as for a real test file.
const FIXTURE = path.join(ROOT, 'packages/pubsub/test/publish-fixture.ts');

const parsed = ts.parseJsonConfigFileContent(
  ts.readConfigFile(path.join(ROOT, 'tsconfig.test.json'), (file) => ts.sys.readFile(file)).config,
  ts.sys,
  ROOT,
);
let previous: ts.Program | undefined;

/** The compiler's messages for one fixture source (empty when it compiles clean). */
function compile(source: string): string[] {
  const host = ts.createCompilerHost(parsed.options);
  const getSourceFile = host.getSourceFile.bind(host);
  host.getSourceFile = (file, language, ...rest) =>
    file === FIXTURE ? ts.createSourceFile(file, source, language) : getSourceFile(file, language, ...rest);
  const fileExists = host.fileExists.bind(host);
  host.fileExists = (file) => file === FIXTURE || fileExists(file);
  // Reusing the last program keeps the packages parsed once: each case then takes a second or two.
  const program = ts.createProgram([FIXTURE], parsed.options, host, previous);
  previous = program;
  return ts
    .getPreEmitDiagnostics(program, program.getSourceFile(FIXTURE))
    .map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
}

const publishAs = (service: string, topic: string) => `
import type { Publisher } from '@aiprod/pubsub';
export async function send(publisher: Publisher<'${service}'>): Promise<void> {
  await publisher.publish('${topic}', { v: 1, jobId: 'job-1', tenantId: 't1' });
}
`;

describe('Publisher<S> accepts only the topics the catalogue lets S publish', () => {
  it('rejects at compile time a topic the service does not own, naming it', () => {
    const errors = compile(publishAs('qa', 'aiprod.job.requested.v1'));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toContain(`Argument of type '"aiprod.job.requested.v1"' is not assignable`);
  });

  it('compiles the same call clean for a topic the service owns', () => {
    expect(compile(publishAs('qa', 'aiprod.job.assemble.v1'))).toEqual([]);
    expect(compile(publishAs('gateway', 'aiprod.job.requested.v1'))).toEqual([]);
  });

  it('lets shared code ask for a topic, and refuses a publisher that does not own it', () => {
    const fixture = (service: string) => `
import type { Publisher, TopicPublisher } from '@aiprod/pubsub';
export const announce = (p: Publisher<'${service}'>): TopicPublisher<'aiprod.shot.rendered.v1'> => p;
`;
    expect(compile(fixture('render'))).toEqual([]);
    const errors = compile(fixture('gateway'));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toContain(`is not assignable to type 'TopicPublisher<"aiprod.shot.rendered.v1">'`);
  });
});
