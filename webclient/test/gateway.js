// Starts the real bin/simplegw for integration tests: every listener on port 0
// of 127.0.0.1, and the ports read from its ready line (DESIGN.md contract).

import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const BIN = process.env.SIMPLEGW_BIN ?? fileURLToPath(new URL('../../bin/simplegw', import.meta.url));

/**
 * Writes a users file (name:password lines) and returns its path.
 * @param {Record<string, string>} users
 */
export function usersFile(users) {
  const dir = mkdtempSync(path.join(tmpdir(), 'simplegw-webclient-'));
  const p = path.join(dir, 'users.txt');
  writeFileSync(p, Object.entries(users).map(([n, pw]) => `${n}:${pw}`).join('\n') + '\n');
  return p;
}

/**
 * Starts the gateway and resolves once it printed its ready line.
 * @param {string[]} args extra flags
 * @param {{http?: string, msrp?: string, sip?: string}} [addrs] listen addresses (port 0 by default)
 * @returns {Promise<{http: string, msrp: string, sip: string, stderr: () => string, stop: () => Promise<void>}>}
 */
export function startGateway(args = [], addrs = {}) {
  if (!existsSync(BIN)) {
    throw new Error(`${BIN} does not exist: run "make build" first (or set SIMPLEGW_BIN)`);
  }
  const proc = spawn(BIN, [
    '-http', addrs.http ?? '127.0.0.1:0',
    '-msrp', addrs.msrp ?? '127.0.0.1:0',
    '-sip', addrs.sip ?? '127.0.0.1:0',
    ...args,
  ], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  proc.stderr.on('data', (d) => { err += d; if (err.length > 200000) err = err.slice(-100000); });
  const exited = new Promise((resolve) => proc.on('exit', resolve));
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`simplegw printed no ready line within 15 s; stderr:\n${err}`));
    }, 15000);
    proc.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`simplegw exited with ${code} before it was ready; stderr:\n${err}`));
    });
    proc.stdout.on('data', (d) => {
      out += d;
      const m = /^simplegw ready (.*)$/m.exec(out);
      if (!m) return;
      clearTimeout(timer);
      const f = Object.fromEntries(m[1].trim().split(/\s+/).map((kv) => kv.split('=')));
      resolve({
        ...f,
        stderr: () => err,
        stop: async () => {
          proc.kill('SIGTERM');
          const t = setTimeout(() => proc.kill('SIGKILL'), 5000);
          await exited;
          clearTimeout(t);
        },
      });
    });
  });
}
