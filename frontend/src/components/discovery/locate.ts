/** Where the device is, through expo-location, for Nearby. */
import * as Location from "expo-location";

import { LocationUnavailable, type Place } from "../../stores/search";

/**
 * A permission prompt nobody answers or a position that never comes (no
 * fix, a headless browser) would leave Nearby waiting: give up after this.
 */
const LOCATE_LIMIT_MS = 15_000;

async function ask(): Promise<Place> {
  let granted: boolean;
  try {
    granted = (await Location.requestForegroundPermissionsAsync()).granted;
  } catch {
    throw new LocationUnavailable(false);
  }
  if (!granted) throw new LocationUnavailable(true);
  try {
    const position = await Location.getCurrentPositionAsync({ accuracy: Location.Accuracy.Balanced });
    return { latitude: position.coords.latitude, longitude: position.coords.longitude };
  } catch {
    throw new LocationUnavailable(false);
  }
}

export async function locate(): Promise<Place> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      ask(),
      new Promise<never>((_, fail) => {
        timer = setTimeout(() => fail(new LocationUnavailable(false)), LOCATE_LIMIT_MS);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
