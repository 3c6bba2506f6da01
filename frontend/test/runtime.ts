/**
 * Component tests' app: the app's own `Grover` on the test Grover, logged in
 * as a new user and installed as the running runtime, as after a login.
 */
import { inject } from "vitest";

import { Grover, useRuntime } from "../src/runtime/grover";
import { uniqueName } from "./helpers";

export async function runningGrover(): Promise<Grover> {
  const grover = new Grover({
    gateway_url: inject("groverUrl"),
    sidecar_url: inject("sidecarUrl"),
    payments: false,
    live_video: false,
    checkout_return_url: "grover://paypal/return",
  });
  await grover.session.getState().start();
  const name = uniqueName();
  await grover.session.getState().register(name, `${name}@example.com`, "correct horse battery");
  useRuntime.setState({ grover, status: "ready" });
  return grover;
}

export function stopRunningGrover(grover: Grover): void {
  useRuntime.setState({ grover: null, status: "idle" });
  grover.client.close();
}
