// Shared machinery of the end-to-end tests: the real simplegw binary on
// free loopback ports, msrpcat as a plain SIP/MSRP peer, and Debian's
// chromium driven by playwright-core, signed in through the demo page.
//
// Nothing here skips: a missing binary or browser fails the test with a
// message that says what to run.

import { spawn } from 'node:child_process';
import { before, after } from 'node:test';
import { once } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const SIMPLEGW = path.join(ROOT, 'bin', 'simplegw');
export const MSRPCAT = path.join(ROOT, 'bin', 'msrpcat');
export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
export const ARTIFACTS = path.join(ROOT, 'e2e', 'artifacts');

/** Chromium flags for a root user on a shared box (see DESIGN.md, dependency traps). */
const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--disable-quic',
];

/**
 * Fails with a clear message when a required file is missing.
 * @param {string} file
 * @param {string} hint what to run to get it
 */
function requireFile(file, hint) {
  if (!fs.existsSync(file)) throw new Error(`${file} is missing: ${hint}`);
}

/**
 * Collects the lines a child process writes, and lets a test wait for one.
 */
export class Lines {
  /**
   * @param {import('node:stream').Readable} stream
   * @param {string} label for error messages
   */
  constructor(stream, label) {
    this.label = label;
    /** @type {string[]} */
    this.all = [];
    /** @private @type {Set<() => void>} */
    this.waiters = new Set();
    this.ended = false;
    let buf = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk) => {
      buf += chunk;
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        this.all.push(buf.slice(0, i).replace(/\r$/, ''));
        buf = buf.slice(i + 1);
      }
      this.wake();
    });
    stream.on('end', () => {
      if (buf) this.all.push(buf);
      this.ended = true;
      this.wake();
    });
  }

  /** @private */
  wake() {
    for (const w of [...this.waiters]) w();
  }

  /**
   * Waits for the first line at or after index `from` that matches re.
   * @param {RegExp} re
   * @param {{timeout?: number, from?: number}} [opts]
   * @returns {Promise<{line: string, match: RegExpMatchArray, index: number}>}
   */
  waitFor(re, { timeout = 15000, from = 0 } = {}) {
    return new Promise((resolve, reject) => {
      const check = () => {
        for (let i = from; i < this.all.length; i++) {
          const m = this.all[i].match(re);
          if (m) {
            done();
            resolve({ line: this.all[i], match: m, index: i });
            return;
          }
        }
        if (this.ended) {
          done();
          reject(new Error(`${this.label} ended without a line matching ${re}; it wrote:\n${this.tail()}`));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`${this.label}: no line matching ${re} within ${timeout} ms; it wrote:\n${this.tail()}`));
      }, timeout);
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(check);
      };
      this.waiters.add(check);
      check();
    });
  }

  /**
   * The last lines, for error messages.
   * @param {number} [n]
   * @returns {string}
   */
  tail(n = 40) {
    return this.all.slice(-n).map((l) => `  | ${l}`).join('\n') || '  | (nothing)';
  }
}

/**
 * A running simplegw.
 */
export class Gateway {
  /**
   * @param {{args?: string[], http?: string, msrp?: string, sip?: string}} [opts]
   */
  constructor(opts = {}) {
    this.extraArgs = opts.args || [];
    this.want = { http: opts.http || '127.0.0.1:0', msrp: opts.msrp || '127.0.0.1:0', sip: opts.sip || '127.0.0.1:0' };
    /** @type {Record<string, string>} bound addresses from the ready line */
    this.addr = {};
    /** @type {import('node:child_process').ChildProcess|null} */
    this.proc = null;
    /** @type {Lines|null} */
    this.stderr = null;
    /** stderr of earlier runs (before a restart), for diagnostics */
    this.previousStderr = '';
  }

  /** The demo page's origin, e.g. "http://127.0.0.1:41234". */
  get url() {
    return `http://${this.addr.http}`;
  }

  /**
   * Starts the binary and waits for its ready line.
   * @returns {Promise<this>}
   */
  async start() {
    requireFile(SIMPLEGW, 'run `make build` first');
    const args = ['-http', this.want.http, '-msrp', this.want.msrp, '-sip', this.want.sip, ...this.extraArgs];
    const proc = spawn(SIMPLEGW, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.proc = proc;
    const out = new Lines(proc.stdout, 'simplegw stdout');
    this.stderr = new Lines(proc.stderr, 'simplegw stderr');
    let ready;
    try {
      ready = await out.waitFor(/^simplegw ready (.*)$/, { timeout: 20000 });
    } catch (err) {
      proc.kill('SIGKILL');
      throw new Error(`${/** @type {Error} */ (err).message}\nsimplegw ${args.join(' ')} stderr:\n${this.stderr.tail()}`);
    }
    this.addr = Object.fromEntries(ready.match[1].trim().split(/\s+/).map((kv) => kv.split('=')));
    for (const k of ['http', 'msrp', 'sip']) {
      if (!this.addr[k]) throw new Error(`ready line lacks ${k}=: ${ready.line}`);
    }
    return this;
  }

  /**
   * Stops the gateway (SIGTERM, graceful) and waits for it to exit.
   */
  async stop() {
    const p = this.proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const exited = once(p, 'exit');
    p.kill('SIGTERM');
    const timer = setTimeout(() => p.kill('SIGKILL'), 10000);
    await exited;
    clearTimeout(timer);
    this.previousStderr += (this.stderr?.all || []).join('\n') + '\n';
  }

  /**
   * Stops and starts again on the same ports.
   */
  async restart() {
    await this.stop();
    this.want = { http: this.addr.http, msrp: this.addr.msrp, sip: this.addr.sip };
    await this.start();
  }

  /** The last lines the gateway logged. */
  tail() {
    return this.stderr ? this.stderr.tail() : '';
  }
}

/**
 * Starts a gateway with the open demo credentials (any name and password on
 * loopback), or with a users file.
 * @param {{users?: Record<string, string>, args?: string[]}} [opts]
 * @returns {Promise<Gateway>}
 */
export async function startGateway(opts = {}) {
  const args = [...(opts.args || [])];
  if (opts.users) {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'simplegw-e2e-')), 'users');
    fs.writeFileSync(file, Object.entries(opts.users).map(([u, p]) => `${u}:${p}`).join('\n') + '\n');
    args.push('-users', file);
  }
  return new Gateway({ args }).start();
}

/**
 * Launches Debian's chromium.
 * @returns {Promise<import('playwright-core').Browser>}
 */
export async function launchBrowser() {
  requireFile(CHROMIUM, 'install it with `apt-get install -y chromium` (make test-e2e does it when root)');
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
}

/**
 * The usual set-up of a test file: one gateway (startGateway(opts)) and one
 * browser, started by a node:test `before` hook and stopped by an `after`
 * hook. Read the fields inside the tests (they are set once `before` ran);
 * push every signed-in User on `users` for withDiagnostics.
 * @param {{users?: Record<string, string>, args?: string[]}} [opts]
 * @returns {{gw: Gateway, browser: import('playwright-core').Browser, users: User[]}}
 */
export function gatewayAndBrowser(opts = {}) {
  const fx = /** @type {{gw: Gateway, browser: import('playwright-core').Browser, users: User[]}} */ (
    /** @type {unknown} */ ({ users: [] }));
  before(async () => {
    fx.gw = await startGateway(opts);
    fx.browser = await launchBrowser();
  });
  after(async () => {
    await fx.browser?.close();
    await fx.gw?.stop();
  });
  return fx;
}

/**
 * One person in a browser: a context of its own (separate storage), one
 * page with the demo, and the page's console for diagnostics.
 */
export class User {
  /**
   * @param {import('playwright-core').BrowserContext} context
   * @param {import('playwright-core').Page} page
   * @param {string} uri
   */
  constructor(context, page, uri) {
    this.context = context;
    this.page = page;
    this.uri = uri;
    /** @type {string[]} */
    this.console = [];
    page.on('console', (m) => this.console.push(`[${m.type()}] ${m.text()}`));
    page.on('pageerror', (e) => this.console.push(`[pageerror] ${e.message}`));
  }

  /**
   * The conversation window with a peer.
   * @param {string} peer SIP URI
   */
  conversation(peer) {
    return this.page.locator(`[data-testid="conversation"][data-peer="${peer}"]`);
  }

  /**
   * The contact button of a peer.
   * @param {string} peer SIP URI
   */
  contact(peer) {
    return this.page.locator(`[data-testid="contact"][data-uri="${peer}"]`);
  }

  /**
   * Opens (adding if needed) the conversation with peer and returns it.
   * @param {string} peer
   */
  async open(peer) {
    if (await this.contact(peer).count() === 0) {
      await this.page.getByTestId('add-contact-input').fill(peer);
      await this.page.getByTestId('add-contact-input').press('Enter');
    } else {
      await this.contact(peer).click();
    }
    const conv = this.conversation(peer);
    await conv.waitFor({ state: 'visible' });
    return conv;
  }

  /**
   * Types and sends a text in the conversation with peer (Enter key).
   * @param {string} peer
   * @param {string} text
   */
  async type(peer, text) {
    const conv = await this.open(peer);
    const box = conv.getByTestId('composer');
    await box.fill(text);
    await box.press('Enter');
    return conv;
  }

  /** What the page logged, for failure messages. */
  tail(n = 30) {
    return this.console.slice(-n).map((l) => `  | ${l}`).join('\n') || '  | (nothing)';
  }
}

/**
 * Opens the demo in a new context and signs in.
 * @param {import('playwright-core').Browser} browser
 * @param {Gateway} gw
 * @param {{uri: string, password?: string, name?: string, expect?: 'registered'|'error'}} who
 * @returns {Promise<User>}
 */
export async function signIn(browser, gw, who) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  context.setDefaultTimeout(15000);
  const page = await context.newPage();
  const user = new User(context, page, who.uri);
  await page.goto(`${gw.url}/`);
  await page.getByTestId('login-uri').fill(who.uri);
  await page.getByTestId('login-password').fill(who.password ?? 'demo');
  await page.getByTestId('login-display-name').fill(who.name ?? '');
  await page.getByTestId('login-submit').click();
  if ((who.expect ?? 'registered') === 'registered') {
    try {
      await page.locator('[data-testid="reg-status"][data-state="registered"]').waitFor();
    } catch (err) {
      const shown = await page.getByTestId('login-error').textContent().catch(() => '');
      throw new Error(`${who.uri} did not register (login error shown: ${JSON.stringify(shown)}): ${/** @type {Error} */ (err).message}\npage console:\n${user.tail()}\ngateway:\n${gw.tail()}`);
    }
  }
  return user;
}

/**
 * A running msrpcat.
 */
export class Msrpcat {
  /**
   * @param {string[]} args
   */
  constructor(args) {
    requireFile(MSRPCAT, 'run `make build` first');
    this.args = args;
    this.proc = spawn(MSRPCAT, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    this.out = new Lines(this.proc.stdout, `msrpcat ${args[0]} stdout`);
    this.err = new Lines(this.proc.stderr, `msrpcat ${args[0]} stderr`);
    this.exited = once(this.proc, 'exit');
  }

  /**
   * Waits for a stdout line; the error names stdout and stderr.
   * @param {RegExp} re
   * @param {{timeout?: number, from?: number}} [opts]
   */
  async waitFor(re, opts) {
    try {
      return await this.out.waitFor(re, opts);
    } catch (err) {
      throw new Error(`${/** @type {Error} */ (err).message}\nmsrpcat ${this.args.join(' ')}\nstderr:\n${this.err.tail()}`);
    }
  }

  /** Stops it (SIGTERM, then SIGKILL). */
  async stop() {
    const p = this.proc;
    if (p.exitCode !== null || p.signalCode !== null) return;
    p.kill('SIGTERM');
    const timer = setTimeout(() => p.kill('SIGKILL'), 5000);
    await this.exited;
    clearTimeout(timer);
  }
}

/**
 * Runs fn; on failure saves a screenshot of every page into e2e/artifacts
 * and adds the pages' consoles and the gateway's log to the error.
 * @param {string} name
 * @param {() => {gateways: Gateway[], users: User[]}} scope
 * @param {() => Promise<void>} fn
 */
export async function withDiagnostics(name, scope, fn) {
  // Pictures of an earlier failed run would mislead.
  if (fs.existsSync(ARTIFACTS)) {
    for (const f of fs.readdirSync(ARTIFACTS)) if (f.startsWith(`failed-${name}-`)) fs.rmSync(path.join(ARTIFACTS, f));
  }
  try {
    await fn();
  } catch (err) {
    const { gateways, users } = scope();
    const parts = [];
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    for (const [i, u] of users.entries()) {
      const file = path.join(ARTIFACTS, `failed-${name}-${i}.png`);
      await u.page.screenshot({ path: file }).catch(() => {});
      parts.push(`page ${u.uri} (screenshot ${path.relative(ROOT, file)}) console:\n${u.tail()}`);
    }
    for (const g of gateways) parts.push(`gateway log:\n${g.tail()}`);
    const e = /** @type {Error} */ (err);
    e.message = `${e.message}\n\n${parts.join('\n')}`;
    throw e;
  }
}
