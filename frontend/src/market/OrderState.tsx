/** An order's state as a coloured pill, and what it means for each side. */
import { View } from "react-native";

import type { OrderView } from "../protocol/types";
import { Text } from "../ui/kit";
import { radius, space, useTheme, type Palette } from "../ui/theme";

export type OrderState = OrderView["state"];

export const UNPAID: readonly OrderState[] = ["created", "approved"];

function tone(state: OrderState, colors: Palette): string {
  switch (state) {
    case "paid":
    case "fulfilled":
      return colors.success;
    case "cancelled":
    case "expired":
      return colors.danger;
    case "refunded":
    case "partially_refunded":
      return colors.textMuted;
    default:
      return colors.primary;
  }
}

/** The state word itself (tests read it), on its colour. */
export function OrderStatePill(props: { state: OrderState; testID?: string }) {
  const { colors } = useTheme();
  const color = tone(props.state, colors);
  return (
    <View
      style={{
        alignSelf: "flex-start",
        borderRadius: radius.round,
        borderWidth: 1,
        borderColor: color,
        paddingHorizontal: space.sm,
        paddingVertical: 2,
      }}
    >
      <Text testID={props.testID} variant="caption" color={color} style={{ fontWeight: "700" }}>
        {props.state}
      </Text>
    </View>
  );
}

/** One line on what the state means, for the buyer or the seller. */
export function stateMeaning(order: OrderView, asBuyer: boolean): string {
  switch (order.state) {
    case "created":
      return asBuyer ? "Waiting for your payment on PayPal." : "Waiting for the buyer to pay.";
    case "approved":
      return asBuyer ? "Approved on PayPal; taking the payment…" : "The buyer approved; the payment is on its way.";
    case "paid":
      return asBuyer ? "Paid. The seller has been told." : "Paid. Ship it, then mark it fulfilled.";
    case "fulfilled":
      return asBuyer ? "Paid and delivered." : "Paid and fulfilled.";
    case "cancelled":
      return "Cancelled. Nothing was charged.";
    case "expired":
      return "Expired before it was paid. Nothing was charged.";
    case "refunded":
      return "Refunded in full.";
    case "partially_refunded":
      return "Partly refunded.";
  }
}
