/** What to tell a person for each error code the server sends. */
import { UploadError, uploadErrorText } from "../media/upload";
import { ConnectionLost, GroverError, RequestTimeout } from "../protocol/client";
import type { ErrorCode } from "../protocol/types";

const WORDS: Partial<Record<ErrorCode | "connection_lost", string>> = {
  invalid_field: "Something in the form isn't right.",
  unauthenticated: "Please log in first.",
  invalid_credentials: "That username and password don't match.",
  username_taken: "That username is taken.",
  email_taken: "That email already has an account.",
  rate_limited: "Slow down a little and try again.",
  not_found: "That no longer exists.",
  forbidden: "You can't do that.",
  overloaded: "Grover is busy. Try again in a moment.",
  timeout: "That took too long. Try again.",
  suspended: "This account is suspended.",
  payments_not_configured: "Payments aren't set up on this server.",
  payment_provider_error: "PayPal didn't answer. Try again.",
  payment_declined: "The payment was declined.",
  product_unavailable: "This product isn't for sale right now.",
  out_of_stock: "Sold out.",
  invalid_state: "That can't be done at this point.",
  insufficient_balance: "Your balance is too low.",
  connection_lost: "You're offline. Try again when connected.",
};

export function errorText(code: string): string {
  return WORDS[code as ErrorCode] ?? "Something went wrong.";
}

/** The words for whatever a request threw. */
export function describe(error: unknown): string {
  if (error instanceof GroverError) return errorText(error.code);
  if (error instanceof ConnectionLost) return errorText("connection_lost");
  if (error instanceof RequestTimeout) return errorText("timeout");
  if (error instanceof UploadError) return uploadErrorText(error);
  return "Something went wrong.";
}
