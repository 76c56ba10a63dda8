import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

/** openssl making one self-signed key and certificate: a second or two. */
const OPENSSL_TIMEOUT_MS = 30_000;

/**
 * A self-signed certificate for the local gateway (localhost and 127.0.0.1), made with openssl
 * on first use and kept in the platform's state directory. Clients trust it as their CA.
 */
export function ensureLocalCertificate(dir: string): { certFile: string; keyFile: string } {
  const certFile = join(dir, 'gateway-cert.pem');
  const keyFile = join(dir, 'gateway-key.pem');
  if (existsSync(certFile) && existsSync(keyFile)) return { certFile, keyFile };
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-days',
      '30',
      '-subj',
      '/CN=aiprod-local-gateway',
      '-addext',
      'subjectAltName=DNS:localhost,IP:127.0.0.1',
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-keyout',
      keyFile,
      '-out',
      certFile,
    ],
    { stdio: 'ignore', timeout: OPENSSL_TIMEOUT_MS },
  );
  return { certFile, keyFile };
}
