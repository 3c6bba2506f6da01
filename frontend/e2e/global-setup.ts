/**
 * Starts the fake PayPal and a Grover serving the web export (`dist/`, built
 * by `make app`), and tells the tests where through the environment.
 * Returns the teardown, which stops both by pid.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";

import { ROOT, startFakePayPal, startGrover } from "../test/processes";

export default async function globalSetup(): Promise<() => Promise<void>> {
  // GROVER_APP_DIST: another export folder (side-by-side work on the app).
  const dist = join(ROOT, "frontend", process.env.GROVER_APP_DIST ?? "dist");
  if (!existsSync(join(dist, "index.html"))) {
    throw new Error("frontend/dist is not built: run `make app` first");
  }
  const paypal = await startFakePayPal();
  let grover;
  try {
    grover = await startGrover({
      appDir: dist,
      env: ({ sidecar }) => ({
        ...paypal.env,
        GROVER_CHECKOUT_RETURN_URL: `http://127.0.0.1:${sidecar}/paypal/return`,
      }),
    });
  } catch (error) {
    await paypal.stop();
    throw error;
  }
  process.env.GROVER_APP_URL = grover.sidecarUrl;
  process.env.GROVER_GATEWAY_URL = grover.gatewayUrl;
  process.env.FAKE_PAYPAL_URL = paypal.url;
  return async () => {
    await grover.stop();
    await paypal.stop();
  };
}
