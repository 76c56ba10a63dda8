/** One jest run for every test: unit tests beside the code, integration tests (*.int.test.ts)
 *  against the real emulators started once in globalSetup, end-to-end tests in test/e2e. */

/** Dependencies jest's CommonJS module system cannot load as published: jose 6, cockatiel 4 and
 *  commander 15 ship only ES modules; teeny-request 11 (under @google-cloud/storage 8) and gaxios
 *  load node-fetch 3 (ES modules, with fetch-blob, formdata-polyfill and data-uri-to-buffer) through
 *  `import()`, which jest runs only with --experimental-vm-modules; srt-parser-2 (a test parser of
 *  @aiprod/speech) is ES modules only. swc turns them into `require`. */
const esModulePackages = [
  'jose',
  'cockatiel',
  'commander',
  'teeny-request',
  'gaxios',
  'node-fetch',
  'fetch-blob',
  'formdata-polyfill',
  'data-uri-to-buffer',
  'srt-parser-2',
].join('|');

module.exports = {
  testEnvironment: 'node',
  roots: [
    '<rootDir>/packages',
    '<rootDir>/services',
    '<rootDir>/infra',
    '<rootDir>/test',
    '<rootDir>/docs',
    '<rootDir>/terraform',
  ],
  testMatch: ['**/*.test.ts'],
  testPathIgnorePatterns: ['/node_modules/', '/dist/'],
  transform: {
    '^.+\\.ts$': ['@swc/jest', { jsc: { target: 'es2022', parser: { syntax: 'typescript' } } }],
    // esModulePackages (above) go through swc as CommonJS; everything else in node_modules as is.
    '^.+/node_modules/.+\\.js$': ['@swc/jest', { jsc: { target: 'es2022' }, module: { type: 'commonjs' } }],
  },
  transformIgnorePatterns: [
    `/node_modules/(?!(\\.pnpm/(${esModulePackages})@[^/]+/node_modules/)?(${esModulePackages})/)`,
  ],
  moduleNameMapper: {
    '^@aiprod/(contracts|config|observability|pubsub|job-store|storage|media|emulators|service-runtime|testing|clip-checks|webhooks|vendor-catalogue|planning|google-ai|speech)$':
      '<rootDir>/packages/$1/src',
  },
  globalSetup: '<rootDir>/test/global-setup.ts',
  globalTeardown: '<rootDir>/test/global-teardown.ts',
  reporters: ['default', '<rootDir>/test/summary-reporter.js'],
  testTimeout: 60000,
  maxWorkers: 2,
};
