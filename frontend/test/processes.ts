/**
 * The real processes tests run against: a Grover (`python -m server.cli
 * serve`, SQLite in a temporary folder, free loopback ports) and the fake
 * PayPal (`python -m tests.fake_paypal_server`). Each is stopped by its pid.
 * The Python is the repo's virtualenv unless GROVER_PYTHON says otherwise
 * (`make test` sets it).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";

export const ROOT = resolve(import.meta.dirname, "..", "..");
const PYTHON = process.env.GROVER_PYTHON ?? join(ROOT, ".venv", "bin", "python");

export function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer();
    server.once("error", fail);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      server.close(() => done(port));
    });
  });
}

async function waitReady(url: string, child: ChildProcess, limitMs: number): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`grover exited with ${child.exitCode}`);
    try {
      if ((await fetch(url)).status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`grover not ready at ${url} within ${limitMs} ms`);
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const stopped = new Promise((r) => child.once("exit", r));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
  await stopped;
  clearTimeout(timer);
}

export interface Running {
  /** The gateway, `ws://127.0.0.1:<port>`. */
  gatewayUrl: string;
  /** The sidecar, `http://127.0.0.1:<port>`. */
  sidecarUrl: string;
  stop(): Promise<void>;
}

export interface GroverOptions {
  /** The web export to serve at `/` (`--app-dir`). */
  appDir?: string;
  /** Extra environment, given the ports chosen (for URLs that name them). */
  env?: (ports: { port: number; sidecar: number }) => Record<string, string>;
}

export async function startGrover(options: GroverOptions = {}): Promise<Running> {
  const dataDir = mkdtempSync(join(tmpdir(), "grover-app-test-"));
  const [port, sidecar] = [await freePort(), await freePort()];
  const args = [
    "-m", "server.cli", "serve",
    "--host", "127.0.0.1",
    "--port", String(port),
    "--sidecar-port", String(sidecar),
    "--data-dir", dataDir,
    "--log-level", "WARNING",
    "--drain-seconds", "0",
    "--argon2-time-cost", "1",
    "--argon2-memory-kib", "64",
    "--rate-register", "1000/1000",
  ];
  if (options.appDir !== undefined) args.push("--app-dir", options.appDir);
  const child = spawn(PYTHON, args, {
    cwd: ROOT,
    stdio: ["ignore", "ignore", "inherit"],
    env: { ...process.env, ...options.env?.({ port, sidecar }) },
  });
  const sidecarUrl = `http://127.0.0.1:${sidecar}`;
  try {
    await waitReady(`${sidecarUrl}/readyz`, child, 30_000);
  } catch (error) {
    await stop(child);
    throw error;
  }
  return {
    gatewayUrl: `ws://127.0.0.1:${port}`,
    sidecarUrl,
    async stop() {
      await stop(child);
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export interface FakePayPal {
  url: string;
  /** Settings that point a Grover at it. */
  env: Record<string, string>;
  stop(): Promise<void>;
}

export async function startFakePayPal(): Promise<FakePayPal> {
  const folder = mkdtempSync(join(tmpdir(), "grover-paypal-"));
  const caFile = join(folder, "paypal-root.pem");
  const child = spawn(PYTHON, ["-m", "tests.fake_paypal_server", "--ca-file", caFile], {
    cwd: ROOT,
    stdio: ["ignore", "pipe", "inherit"],
  });
  const lines = createInterface({ input: child.stdout! });
  const first = await new Promise<string>((done, fail) => {
    const timer = setTimeout(() => fail(new Error("fake PayPal did not start in 30 s")), 30_000);
    lines.once("line", (line) => {
      clearTimeout(timer);
      done(line);
    });
    child.once("exit", (code) => fail(new Error(`fake PayPal exited with ${code}`)));
  });
  const info = JSON.parse(first) as { port: number; client_id: string; client_secret: string; webhook_id: string };
  const url = `http://127.0.0.1:${info.port}`;
  return {
    url,
    env: {
      PAYPAL_CLIENT_ID: info.client_id,
      PAYPAL_CLIENT_SECRET: info.client_secret,
      PAYPAL_WEBHOOK_ID: info.webhook_id,
      GROVER_PAYPAL_API_URL: url,
      GROVER_PAYPAL_CA_FILE: caFile,
    },
    async stop() {
      await stop(child);
      rmSync(folder, { recursive: true, force: true });
    },
  };
}
