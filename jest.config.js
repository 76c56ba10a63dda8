/** One jest run for every test: unit tests beside the code, integration tests (*.int.test.ts)
 *  against the real emulators started once in globalSetup, end-to-end tests in test/e2e. */
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
    // jose 6 and cockatiel 4 ship only ES modules; jest's module system needs them as CommonJS.
    '^.+/node_modules/.+\\.js$': ['@swc/jest', { jsc: { target: 'es2022' }, module: { type: 'commonjs' } }],
  },
  transformIgnorePatterns: ['/node_modules/(?!(\\.pnpm/(jose|cockatiel)@[^/]+/node_modules/)?(jose|cockatiel)/)'],
  moduleNameMapper: {
    '^@aiprod/(contracts|config|observability|pubsub|job-store|storage|media|emulators|service-runtime|testing|qa|webhooks|planning)$':
      '<rootDir>/packages/$1/src',
  },
  globalSetup: '<rootDir>/test/global-setup.ts',
  globalTeardown: '<rootDir>/test/global-teardown.ts',
  reporters: ['default', '<rootDir>/test/summary-reporter.js'],
  testTimeout: 60000,
  maxWorkers: 2,
};
