/**
 * Prices as people type them and as the wire carries them: a decimal string
 * ("12.50") and an integer of the currency's minor units (1250). The
 * conversion is done on the digits themselves, never through a float, so
 * "0.29" is 29 and not 28.999….
 */
import { LIMITS, type ProductView } from "../protocol/types";

export type Currency = ProductView["currency"];

/**
 * Decimals of each currency as PayPal counts them (the server's
 * `CURRENCY_DIGITS`): HUF, JPY and TWD have none. A `Record` over the
 * generated union, so a currency added to the protocol fails to compile here.
 */
export const CURRENCY_DIGITS: Record<Currency, 0 | 2> = {
  USD: 2, EUR: 2, GBP: 2, CAD: 2, AUD: 2, JPY: 0, CHF: 2, SEK: 2, NOK: 2, DKK: 2, PLN: 2, CZK: 2,
  HUF: 0, MXN: 2, BRL: 2, HKD: 2, SGD: 2, NZD: 2, ILS: 2, MYR: 2, PHP: 2, THB: 2, TWD: 0,
};

/** Every currency a product may be priced in, most used first. */
export const CURRENCIES = Object.keys(CURRENCY_DIGITS) as Currency[];

export function isCurrency(value: string): value is Currency {
  return Object.prototype.hasOwnProperty.call(CURRENCY_DIGITS, value);
}

export type PriceProblem = "empty" | "format" | "decimals" | "zero" | "too_large";

/** A price that cannot be read; `message` is for the person who typed it. */
export class PriceError extends Error {
  constructor(
    readonly problem: PriceProblem,
    message: string,
  ) {
    super(message);
    this.name = "PriceError";
  }
}

// Digits, then at most one decimal separator (a point, or a comma as many
// keyboards type it) and more digits; at least one digit in all.
const DECIMAL = /^(\d*)(?:[.,](\d*))?$/;

/**
 * "19.99" in USD → 1999; "1500" in JPY → 1500. Throws a `PriceError` for
 * anything else: not a number, more decimals than the currency has, zero, or
 * above the protocol's `PRICE_MAX`.
 */
export function parsePrice(text: string, currency: Currency): number {
  const trimmed = text.trim();
  if (trimmed === "") throw new PriceError("empty", "Enter a price.");
  const match = DECIMAL.exec(trimmed);
  const whole = match?.[1] ?? "";
  const fraction = match?.[2] ?? "";
  if (match === null || (whole === "" && fraction === "")) {
    throw new PriceError("format", "Enter a number, like 12.50.");
  }
  // Extra decimals are refused even when zeros: "1,000" or "1.000" may mean a
  // thousand to the person typing, and must not become 1.00.
  const digits = CURRENCY_DIGITS[currency];
  if (fraction.length > digits) {
    throw new PriceError(
      "decimals",
      digits === 0
        ? `${currency} has no cents: enter a whole amount, without separators.`
        : `Use at most ${digits} decimals, and no thousands separators.`,
    );
  }
  // The integer's digits as a string first: its length bounds it before any
  // conversion, so a huge input cannot lose precision on the way.
  const minorDigits = (whole + fraction.padEnd(digits, "0")).replace(/^0+/, "");
  if (minorDigits === "") throw new PriceError("zero", "The price must be more than zero.");
  if (minorDigits.length > String(LIMITS.PRICE_MAX).length || Number(minorDigits) > LIMITS.PRICE_MAX) {
    throw new PriceError("too_large", `At most ${formatPrice(LIMITS.PRICE_MAX, currency)} ${currency}.`);
  }
  return Number(minorDigits);
}

/** Minor units back to the plain decimal a person would type: 1250 USD → "12.50". */
export function formatPrice(minor: number, currency: Currency): string {
  if (!Number.isSafeInteger(minor) || minor < 0) throw new RangeError(`not an amount: ${minor}`);
  const digits = CURRENCY_DIGITS[currency];
  if (digits === 0) return String(minor);
  const text = String(minor).padStart(digits + 1, "0");
  return `${text.slice(0, -digits)}.${text.slice(-digits)}`;
}
