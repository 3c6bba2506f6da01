import { router, Stack, useLocalSearchParams } from "expo-router";
import { useState } from "react";
import { ScrollView, View } from "react-native";
import { useStore } from "zustand";

import { OrderStatePill, stateMeaning, UNPAID } from "../../../src/market/OrderState";
import { isPopupBlocked, payWithPayPal } from "../../../src/market/paypal";
import { GroverError } from "../../../src/protocol/client";
import type { OrderView } from "../../../src/protocol/types";
import { useGrover } from "../../../src/runtime/grover";
import { marketOf } from "../../../src/stores/market";
import { describe } from "../../../src/ui/errors";
import { useLoad } from "../../../src/ui/useLoad";
import { ago, Button, Card, Divider, ErrorState, LoadingState, Row, Screen, Text, money } from "../../../src/ui/kit";
import { space, useTheme } from "../../../src/ui/theme";

/** Where the buyer is in paying, beyond what the order's state says. */
type Phase = "idle" | "paying" | "cancelled" | "closed" | "blocked";

const PHASE_WORDS: Record<Exclude<Phase, "idle" | "paying">, string> = {
  cancelled: "You cancelled on PayPal. Nothing was charged; you can pay again.",
  closed: "PayPal closed before you approved. Nothing was charged; you can pay again.",
  blocked: "Your browser blocked PayPal's window. Allow pop-ups for Grover and try again.",
};

function timeOfDay(seconds: number): string {
  return new Date(seconds * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

function PayBox(props: { order: OrderView; paymentsOn: boolean }) {
  const grover = useGrover();
  const market = grover.part(marketOf);
  const { colors } = useTheme();
  const { order } = props;
  const [phase, setPhase] = useState<Phase>("idle");
  const [busy, setBusy] = useState<"capture" | "cancel" | null>(null);
  const [failure, setFailure] = useState<unknown>(null);
  const notConfigured =
    !props.paymentsOn || (failure instanceof GroverError && failure.code === "payments_not_configured");

  if (notConfigured) {
    return (
      <Card testID="payments-off" style={{ gap: space.sm }}>
        <Text variant="label">Payments aren't set up</Text>
        <Text muted>This Grover has no PayPal account connected, so this order can't be paid here.</Text>
      </Card>
    );
  }

  // Straight from the tap, without awaiting first: browsers only open a popup in answer to one.
  const pay = () => {
    setPhase("paying");
    setFailure(null);
    payWithPayPal(market, order, grover.config).then(
      (outcome) => setPhase(outcome === "captured" ? "idle" : outcome),
      (error: unknown) => {
        setPhase(isPopupBlocked(error) ? "blocked" : "idle");
        if (!isPopupBlocked(error)) setFailure(error);
      },
    );
  };
  const act = (what: "capture" | "cancel") => {
    setBusy(what);
    setFailure(null);
    const work = what === "capture" ? market.getState().capture(order.id) : market.getState().cancel(order.id);
    work.catch((error: unknown) => setFailure(error)).finally(() => setBusy(null));
  };

  const paying = phase === "paying";
  return (
    <Card style={{ gap: space.md }}>
      {order.state === "created" ? (
        <Text muted>Reserved for you until {timeOfDay(order.expires_at)}. You approve the payment on PayPal's page.</Text>
      ) : (
        <Text muted>PayPal has your approval. If the payment doesn't go through on its own, finish it here.</Text>
      )}
      {paying ? (
        <Text testID="pay-waiting" variant="label">
          Finish on PayPal's page…
        </Text>
      ) : null}
      {phase !== "idle" && phase !== "paying" ? (
        <Text testID="pay-outcome" variant="label" color={phase === "blocked" ? colors.danger : colors.text}>
          {PHASE_WORDS[phase]}
        </Text>
      ) : null}
      {order.state === "created" ? (
        <Button testID="pay" title="Pay with PayPal" busy={paying} disabled={busy !== null} onPress={pay} />
      ) : (
        <Button testID="capture" title="Finish payment" busy={busy === "capture"} onPress={() => act("capture")} />
      )}
      <Button
        testID="order-cancel"
        kind="ghost"
        title="Cancel order"
        busy={busy === "cancel"}
        disabled={paying}
        onPress={() => act("cancel")}
      />
      {failure !== null ? (
        <Text testID="pay-error" variant="label" color={colors.danger}>
          {describe(failure)}
        </Text>
      ) : null}
    </Card>
  );
}

export default function Checkout() {
  const { id } = useLocalSearchParams<{ id: string }>();
  const grover = useGrover();
  const market = grover.part(marketOf);
  const me = useStore(grover.session, (s) => s.user?.id ?? null);
  const order = useStore(market, (s) => s.orders[id]);
  const { colors } = useTheme();
  const { error, retry: load } = useLoad(() => market.getState().loadOrder(id), [market, id]);

  let body;
  if (order === undefined) {
    body = error !== null ? <ErrorState message={describe(error)} onRetry={load} /> : <LoadingState label="Loading order…" />;
  } else {
    const asBuyer = order.buyer.id === me;
    const other = asBuyer ? order.seller : order.buyer;
    body = (
      <ScrollView contentContainerStyle={{ padding: space.lg, gap: space.lg, maxWidth: 560, width: "100%", alignSelf: "center" }}>
        <Card style={{ gap: space.sm }}>
          <Row style={{ justifyContent: "space-between", alignItems: "flex-start" }}>
            <Text testID="order-title" variant="title" style={{ flex: 1 }}>
              {order.title}
            </Text>
            <OrderStatePill state={order.state} testID="order-state" />
          </Row>
          <Text muted>
            {asBuyer ? "From" : "To"} @{other.username}
          </Text>
          <Divider />
          <Row style={{ justifyContent: "space-between" }}>
            <Text muted>
              {order.quantity} × {money(order.unit_price, order.currency)}
            </Text>
            <Text testID="order-amount" variant="title">
              {money(order.amount, order.currency)}
            </Text>
          </Row>
          {order.refunded > 0 ? (
            <Text muted>Refunded {money(order.refunded, order.currency)}</Text>
          ) : null}
          <Text testID="order-meaning" variant="label" color={UNPAID.includes(order.state) ? colors.text : colors.textMuted}>
            {stateMeaning(order, asBuyer)}
          </Text>
        </Card>
        {asBuyer && UNPAID.includes(order.state) ? <PayBox order={order} paymentsOn={grover.config.payments} /> : null}
        <View style={{ gap: space.xs }}>
          <Text variant="caption" muted>
            History
          </Text>
          {order.history.map((change) => (
            <Row key={`${change.at}-${change.to_state}`} style={{ justifyContent: "space-between" }}>
              <Text variant="caption">{change.to_state}</Text>
              <Text variant="caption" muted>
                {ago(change.at)}
              </Text>
            </Row>
          ))}
        </View>
        <Row gap={space.sm} style={{ flexWrap: "wrap" }}>
          {order.product_id !== null ? (
            <Button small kind="secondary" title="View product" onPress={() => router.push(`/product/${order.product_id}`)} />
          ) : null}
          <Button testID="to-orders" small kind="secondary" title="My orders" onPress={() => router.push("/orders")} />
        </Row>
      </ScrollView>
    );
  }
  return (
    <Screen edges={["bottom"]}>
      <Stack.Screen options={{ title: "Checkout" }} />
      {body}
    </Screen>
  );
}
