// What both browser tests share: the users-server binary started in a fresh folder, calls to its API, the mails it
// writes as .eml files, and Chromium with every request off 127.0.0.1 refused. A check that fails throws; `run`
// then says what failed, shows the end of the server's log, stops everything and exits non-zero.

import { spawn } from 'node:child_process';
import { mkdtempSync, openSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import { chromium } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

/** How long the server may take to answer `/health/ready` (a debug build migrates and makes a key first). */
const READY_TIMEOUT_MS = 60_000;
/** How long a mail may take to reach `data/mail/` (the outbox worker delivers in the background). */
const MAIL_TIMEOUT_MS = 20_000;
/** How long the server may take to stop after SIGTERM before it is killed. */
const STOP_TIMEOUT_MS = 10_000;
/** How long a whole run may take: past it, something hangs, and the run fails rather than wait forever. */
const RUN_TIMEOUT_MS = 180_000;

/** Variables the server reads: none from the caller's environment may stand in for its defaults. */
const SERVER_VARIABLES = new RegExp(
  '^(USERS_.*|DATABASE_URL|JWT_.*|REFRESH_TOKEN_SECRET|METRICS_ADDRESS|TRUSTED_PROXIES|MAIL_.*|LOG_FORMAT|RUST_LOG|' +
    'HOST|PORT)$',
);

let passed = 0;

/**
 * Fails the run with `message` unless `condition` holds; prints the check when it does. `found`, what was seen
 * instead, is shown only on failure (a passing answer may hold tokens, which are never printed).
 */
export function check(condition, message, found) {
  if (!condition) {
    throw new Error(found === undefined ? message : `${message}; found ${found}`);
  }
  passed += 1;
  console.log(`  ok: ${message}`);
}

/** `url` without its query, which may hold a token: what a failure may show of a link. */
export function withoutQuery(url) {
  const { origin, pathname } = new URL(url);
  return `${origin}${pathname}`;
}

/** An address of the run's own, so that reruns never meet an account from before. */
export function uniqueEmail(name) {
  return `${name}.${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}@example.com`;
}

async function freePort() {
  const server = createServer();
  await new Promise((done, fail) => server.once('error', fail).listen(0, '127.0.0.1', done));
  const { port } = server.address();
  await new Promise((done) => server.close(done));
  return port;
}

/** The users-server binary serving from a fresh folder of its own, on a free port of 127.0.0.1. */
export class Server {
  static async start() {
    const binary = resolve(process.env.USERS_SERVER_BIN ?? 'target/debug/users-server');
    const folder = mkdtempSync(join(tmpdir(), 'users-e2e-'));
    const port = await freePort();
    const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !SERVER_VARIABLES.test(name)));
    const log = join(folder, 'server.log');
    const output = openSync(log, 'a');
    const child = spawn(binary, [], {
      cwd: folder,
      env: { ...env, HOST: '127.0.0.1', PORT: String(port) },
      stdio: ['ignore', output, output],
    });
    const server = new Server(child, folder, `http://127.0.0.1:${port}`, log);
    await server.waitUntilReady(binary);
    return server;
  }

  constructor(child, folder, base, log) {
    this.child = child;
    this.folder = folder;
    this.base = base;
    this.log = log;
    this.exited = null;
    child.on('error', (error) => {
      this.exited = `could not be started: ${error.message}`;
    });
    child.on('exit', (code, signal) => {
      this.exited = `exited (${signal ?? `code ${code}`})`;
    });
  }

  async waitUntilReady(binary) {
    const deadline = Date.now() + READY_TIMEOUT_MS;
    while (Date.now() < deadline) {
      if (this.exited) {
        throw new Error(`${binary} ${this.exited} before it was ready`);
      }
      try {
        if ((await fetch(`${this.base}/health/ready`)).status === 200) {
          console.log(`users-server ready at ${this.base}, in ${this.folder}`);
          return;
        }
      } catch {
        // Not listening yet.
      }
      await sleep(100);
    }
    throw new Error(`${binary} did not answer 200 on /health/ready within ${READY_TIMEOUT_MS / 1000} s`);
  }

  /** `method path` with `body` as JSON (and a bearer `token`): the status, headers and JSON body, if any. */
  async call(method, path, { body, token } = {}) {
    const headers = {};
    if (body !== undefined) {
      headers['content-type'] = 'application/json';
    }
    if (token) {
      headers.authorization = `Bearer ${token}`;
    }
    const response = await fetch(`${this.base}${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    let json = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      json = null;
    }
    return { status: response.status, headers: response.headers, json, text };
  }

  /** The last lines the server logged, for a failure report. */
  logTail(lines = 30) {
    try {
      return readFileSync(this.log, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
    } catch {
      return '(no log)';
    }
  }

  /** The link to `path` (e.g. `/reset-password`) in the first mail to `to` that holds one, waiting for it. */
  async mailedLink(to, path) {
    const mailDir = join(this.folder, 'data', 'mail');
    // `path` is one of ours (letters, `/`, `-`): nothing in it needs escaping.
    const pattern = new RegExp(`https?://[^\\s"<>]+${path}\\?token=[A-Za-z0-9_-]+`);
    const deadline = Date.now() + MAIL_TIMEOUT_MS;
    while (Date.now() < deadline) {
      for (const name of listMail(mailDir)) {
        // A file still being written parses to no link, and is read again on the next round.
        const message = parseMessage(readFileSync(join(mailDir, name), 'latin1'));
        if (!addressedTo(message, to)) {
          continue;
        }
        const link = plainText(message)?.match(pattern)?.[0];
        if (link) {
          return link;
        }
      }
      await sleep(200);
    }
    const found = listMail(mailDir);
    throw new Error(
      `no mail to ${to} with a ${path}?token= link in ${mailDir} within ${MAIL_TIMEOUT_MS / 1000} s ` +
        `(${found.length} .eml file(s) there: ${found.join(', ') || 'none'})`,
    );
  }

  /** Sends SIGTERM (the server finishes what is under way and exits), at once. */
  kill() {
    if (!this.exited) {
      this.child.kill('SIGTERM');
    }
  }

  /** Stops the server and waits until it has exited, so that nothing writes to its folder afterwards. */
  async stop() {
    if (this.exited) {
      return;
    }
    const exited = new Promise((done) => this.child.once('exit', done));
    this.kill();
    await Promise.race([exited, sleep(STOP_TIMEOUT_MS)]);
    if (!this.exited) {
      this.child.kill('SIGKILL');
      await exited;
    }
  }

  removeFolder() {
    rmSync(this.folder, { recursive: true, force: true });
  }
}

function listMail(mailDir) {
  try {
    return readdirSync(mailDir).filter((name) => name.endsWith('.eml')).sort();
  } catch {
    return [];
  }
}

// RFC 5322 / MIME, as much as a plain-text mail needs: headers (unfolded), multipart bodies, and the
// quoted-printable and base64 transfer encodings. The text is read as latin1 so that each byte stays one char until
// the part is decoded as UTF-8.

/** `{ headers: Map(lower-case name → value), body }` of a message or of one MIME part. */
function parseMessage(raw) {
  const split = raw.search(/\r?\n\r?\n/);
  const head = split < 0 ? raw : raw.slice(0, split);
  const body = split < 0 ? '' : raw.slice(split).replace(/^\r?\n\r?\n/, '');
  const headers = new Map();
  for (const line of head.replace(/\r?\n[ \t]+/g, ' ').split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon > 0) {
      const name = line.slice(0, colon).trim().toLowerCase();
      if (!headers.has(name)) {
        headers.set(name, line.slice(colon + 1).trim());
      }
    }
  }
  return { headers, body };
}

function addressedTo(message, address) {
  return (message.headers.get('to') ?? '').toLowerCase().includes(address.toLowerCase());
}

/** The decoded text of the message's first text/plain part (the message itself when it is not multipart). */
function plainText(message) {
  const contentType = message.headers.get('content-type') ?? 'text/plain';
  const boundary = contentType.match(/boundary="?([^";]+)"?/i)?.[1];
  if (/^multipart\//i.test(contentType) && boundary) {
    const parts = message.body.split(`--${boundary}`).slice(1);
    for (const part of parts) {
      if (part.startsWith('--')) {
        break; // the closing delimiter
      }
      const text = plainText(parseMessage(part.replace(/^\r?\n/, '')));
      if (text !== null) {
        return text;
      }
    }
    return null;
  }
  if (!/^text\/plain/i.test(contentType)) {
    return null;
  }
  const encoding = (message.headers.get('content-transfer-encoding') ?? '7bit').toLowerCase();
  let bytes;
  if (encoding === 'quoted-printable') {
    const joined = message.body.replace(/=\r?\n/g, ''); // soft line breaks
    const decoded = joined.replace(/=([0-9A-Fa-f]{2})/g, (_, hex) => String.fromCharCode(parseInt(hex, 16)));
    bytes = Buffer.from(decoded, 'latin1');
  } else if (encoding === 'base64') {
    bytes = Buffer.from(message.body.replace(/\s+/g, ''), 'base64');
  } else {
    bytes = Buffer.from(message.body, 'latin1');
  }
  return bytes.toString('utf8');
}

/**
 * Chromium with no network but 127.0.0.1: every other request is refused and remembered in `browser.refused`.
 * Content-Security-Policy reports and uncaught errors of the pages are remembered in `browser.pageErrors`.
 */
export async function launchBrowser() {
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
  });
  const context = await browser.newContext();
  // Every step here takes well under a second; a step still waiting after this has failed.
  context.setDefaultTimeout(10_000);
  const refused = [];
  await context.route('**/*', (route) => {
    const url = new URL(route.request().url());
    if (url.hostname === '127.0.0.1') {
      return route.continue();
    }
    refused.push(url.href);
    return route.abort('blockedbyclient');
  });
  const pageErrors = [];
  context.on('page', (page) => watchPage(page, pageErrors));
  return { browser, context, refused, pageErrors };
}

function watchPage(page, pageErrors) {
  page.on('pageerror', (error) => pageErrors.push(`uncaught: ${error.message}`));
  page.on('console', (message) => {
    // A refused fetch status (422, 400) is logged as a console error too; those are expected.
    if (message.type() === 'error' && /Content Security Policy|Refused to/i.test(message.text())) {
      pageErrors.push(message.text());
    }
  });
}

/** The checks every page visit ends with: nothing off the host was asked for, nothing was refused by the policy. */
export function checkCleanPages({ refused, pageErrors }) {
  check(refused.length === 0, 'the pages asked for nothing outside 127.0.0.1', refused.join(', '));
  check(pageErrors.length === 0, 'no script error or policy violation in the pages', pageErrors.join(' | '));
}

/** Opens `url` in `page` and checks the page's protective headers and that its style sheet applied. */
export async function openPage(page, url, heading) {
  const response = await page.goto(url);
  check(response?.status() === 200, `${new URL(url).pathname} answers 200`, `${response?.status()}`);
  const headers = response.headers();
  const policy = headers['content-security-policy'];
  check(/^default-src 'none'; script-src 'self';/.test(policy ?? ''), 'it is served under the strict policy', policy);
  check(headers['referrer-policy'] === 'no-referrer', 'it sends no referrer');
  await page.getByRole('heading', { name: heading }).waitFor();
  const width = await page.locator('main').evaluate((main) => getComputedStyle(main).maxWidth);
  check(width === '448px', 'its style sheet applied', `main's max-width ${width}`);
}

/** Waits for `text` to appear in `page`, and counts that as the check `what`. */
export async function expectText(page, text, what) {
  try {
    await page.getByText(text, { exact: true }).waitFor({ timeout: 10_000 });
  } catch {
    const shown = (await page.locator('#outcome').textContent().catch(() => null)) ?? '';
    throw new Error(`${what}: "${text}" did not appear within 10 s (the page's message is "${shown.trim()}")`);
  }
  check(true, `${what}: "${text}"`);
}

/** Runs `test(context)` with a started server and browser; reports, cleans up and exits with the outcome. */
export async function run(name, test) {
  console.log(`${name}: starting`);
  let server;
  let browser;
  // However the run ends, the server does not outlive it.
  process.on('exit', () => server?.kill());
  for (const signal of ['SIGINT', 'SIGTERM']) {
    process.on(signal, () => process.exit(130));
  }
  setTimeout(() => {
    console.error(`${name}: FAILED: not finished after ${RUN_TIMEOUT_MS / 1000} s`);
    process.exit(1);
  }, RUN_TIMEOUT_MS).unref();
  try {
    server = await Server.start();
    browser = await launchBrowser();
    await test({ server, ...browser });
    checkCleanPages(browser);
    console.log(`${name}: ${passed} passed, 0 failed`);
    await browser.browser.close();
    await server.stop();
    server.removeFolder();
    process.exit(0);
  } catch (error) {
    console.error(`${name}: FAILED after ${passed} passing checks: ${error.message}`);
    if (server) {
      console.error(`--- last lines of the server's log (${server.log}; the folder is kept)\n${server.logTail()}`);
    }
    await browser?.browser.close().catch(() => {});
    await server?.stop();
    process.exit(1);
  }
}
