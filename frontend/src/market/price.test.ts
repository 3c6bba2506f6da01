import { describe, expect, test } from "vitest";

import { LIMITS } from "../protocol/types";
import { money } from "../ui/kit";
import { CURRENCIES, CURRENCY_DIGITS, formatPrice, isCurrency, parsePrice, PriceError, type PriceProblem } from "./price";

function problem(text: string, currency: Parameters<typeof parsePrice>[1]): PriceProblem | "none" {
  try {
    parsePrice(text, currency);
    return "none";
  } catch (error) {
    expect(error).toBeInstanceOf(PriceError);
    expect((error as PriceError).message).not.toBe("");
    return (error as PriceError).problem;
  }
}

describe("parsePrice", () => {
  test("decimal strings become exact minor units", () => {
    expect(parsePrice("19.99", "USD")).toBe(1999);
    expect(parsePrice("12.50", "USD")).toBe(1250);
    expect(parsePrice("12.5", "EUR")).toBe(1250);
    expect(parsePrice("12", "GBP")).toBe(1200);
    expect(parsePrice(" 7 ", "USD")).toBe(700);
    // Values a float multiplication gets wrong (0.29 * 100 = 28.999…).
    expect(parsePrice("0.29", "USD")).toBe(29);
    expect(parsePrice("1.15", "USD")).toBe(115);
    expect(parsePrice("4.35", "USD")).toBe(435);
    expect(parsePrice("0.01", "USD")).toBe(1);
    expect(parsePrice(".5", "USD")).toBe(50);
    expect(parsePrice("5.", "USD")).toBe(500);
    expect(parsePrice("0012.50", "USD")).toBe(1250);
  });

  test("a comma is read as the decimal separator", () => {
    expect(parsePrice("12,50", "EUR")).toBe(1250);
  });

  test("zero-decimal currencies take whole amounts", () => {
    expect(CURRENCY_DIGITS.JPY).toBe(0);
    expect(CURRENCY_DIGITS.HUF).toBe(0);
    expect(CURRENCY_DIGITS.TWD).toBe(0);
    expect(parsePrice("1500", "JPY")).toBe(1500);
    expect(problem("1500.00", "HUF")).toBe("decimals");
    expect(problem("1500.5", "JPY")).toBe("decimals");
    expect(problem("99.9", "TWD")).toBe("decimals");
  });

  test("bad input is refused with the reason", () => {
    expect(problem("", "USD")).toBe("empty");
    expect(problem("   ", "USD")).toBe("empty");
    expect(problem("abc", "USD")).toBe("format");
    expect(problem("12.50$", "USD")).toBe("format");
    expect(problem("$12", "USD")).toBe("format");
    expect(problem("-5", "USD")).toBe("format");
    expect(problem("1e3", "USD")).toBe("format");
    expect(problem("1.2.3", "USD")).toBe("format");
    expect(problem(".", "USD")).toBe("format");
    expect(problem("1,000.00", "USD")).toBe("format");
    expect(problem("12.345", "USD")).toBe("decimals");
    // A thousands separator is never taken for a decimal point: not $1.00.
    expect(problem("1,000", "USD")).toBe("decimals");
    expect(problem("1.000", "EUR")).toBe("decimals");
    expect(problem("19.990", "USD")).toBe("decimals");
    expect(problem("0", "USD")).toBe("zero");
    expect(problem("0.00", "USD")).toBe("zero");
    expect(problem("0.001", "USD")).toBe("decimals");
  });

  test("bounded by the protocol's PRICE_MAX, without precision loss on huge input", () => {
    expect(parsePrice("1000000", "USD")).toBe(LIMITS.PRICE_MAX);
    expect(problem("1000000.01", "USD")).toBe("too_large");
    expect(parsePrice(String(LIMITS.PRICE_MAX), "JPY")).toBe(LIMITS.PRICE_MAX);
    expect(problem(String(LIMITS.PRICE_MAX + 1), "JPY")).toBe("too_large");
    expect(problem("9".repeat(400), "USD")).toBe("too_large");
    expect(problem("00000000000000000001", "JPY")).toBe("none");
  });
});

describe("formatPrice and display", () => {
  test("minor units back to what a person types, and parsed again unchanged", () => {
    expect(formatPrice(1250, "USD")).toBe("12.50");
    expect(formatPrice(5, "USD")).toBe("0.05");
    expect(formatPrice(1500, "JPY")).toBe("1500");
    for (const currency of CURRENCIES) {
      for (const minor of [1, 29, 1999, LIMITS.PRICE_MAX]) {
        expect(parsePrice(formatPrice(minor, currency), currency)).toBe(minor);
      }
    }
    expect(() => formatPrice(1.5, "USD")).toThrow(RangeError);
  });

  test("money() shows parsed prices with the currency's decimals", () => {
    expect(money(parsePrice("12.50", "USD"), "USD")).toMatch(/12\.50/);
    expect(money(parsePrice("1500", "JPY"), "JPY")).toMatch(/1,?500/);
    expect(money(parsePrice("1500", "JPY"), "JPY")).not.toMatch(/15\.00/);
  });

  test("every protocol currency is known, and nothing else", () => {
    expect(CURRENCIES).toHaveLength(23);
    expect(isCurrency("USD")).toBe(true);
    expect(isCurrency("XXX")).toBe(false);
    expect(isCurrency("toString")).toBe(false);
  });
});
