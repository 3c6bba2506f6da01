/**
 * Starts a real Grover (`python -m server.cli serve`, SQLite in a temporary
 * folder, free loopback ports) for the run and stops it by its pid. The
 * Python is the repo's virtualenv unless GROVER_PYTHON says otherwise
 * (`make test` sets it).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { TestProject } from "vitest/node";

declare module "vitest" {
  export interface ProvidedContext {
    groverUrl: string;
  }
}

const ROOT = resolve(import.meta.dirname, "..", "..");

function freePort(): Promise<number> {
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

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const python = process.env.GROVER_PYTHON ?? join(ROOT, ".venv", "bin", "python");
  const dataDir = mkdtempSync(join(tmpdir(), "grover-app-test-"));
  const [port, sidecar] = [await freePort(), await freePort()];
  const child = spawn(
    python,
    [
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
    ],
    { cwd: ROOT, stdio: ["ignore", "ignore", "inherit"] },
  );
  await waitReady(`http://127.0.0.1:${sidecar}/readyz`, child, 30_000);
  project.provide("groverUrl", `ws://127.0.0.1:${port}`);
  return async () => {
    child.kill("SIGTERM");
    const stopped = new Promise((r) => child.once("exit", r));
    const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
    await stopped;
    clearTimeout(timer);
    rmSync(dataDir, { recursive: true, force: true });
  };
}
