/** Vitest's global setup: one real Grover for the run (see processes.ts). */
import type { TestProject } from "vitest/node";

import { startGrover } from "./processes";

declare module "vitest" {
  export interface ProvidedContext {
    groverUrl: string;
    sidecarUrl: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const grover = await startGrover();
  project.provide("groverUrl", grover.gatewayUrl);
  project.provide("sidecarUrl", grover.sidecarUrl);
  return () => grover.stop();
}
