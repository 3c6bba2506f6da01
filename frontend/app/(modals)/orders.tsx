import { FlashList } from "@shopify/flash-list";
import { router, Stack } from "expo-router";
import { useCallback, useEffect, useState } from "react";
import { Pressable, View } from "react-native";
import { useStore } from "zustand";

import { OrderStatePill } from "../../src/market/OrderState";
import type { OrderView } from "../../src/protocol/types";
import { useGrover } from "../../src/runtime/grover";
import { marketOf, type OrderRole } from "../../src/stores/market";
import { type Segment, Segments } from "../../src/ui/controls";
import { describe } from "../../src/ui/errors";
import { ago, Button, Card, EmptyState, ErrorState, LoadingState, Row, Screen, Text, money } from "../../src/ui/kit";
import { space, useTheme } from "../../src/ui/theme";

const ROLES: readonly Segment<OrderRole>[] = [
  { value: "buyer", label: "Purchases", testID: "orders-buyer" },
  { value: "seller", label: "Sales", testID: "orders-seller" },
];

function OrderRow(props: { order: OrderView; role: OrderRole }) {
  const market = useGrover().part(marketOf);
  const { colors } = useTheme();
  const { order, role } = props;
  const [busy, setBusy] = useState(false);
  const [failure, setFailure] = useState<string | null>(null);
  const other = role === "buyer" ? order.seller : order.buyer;
  // Digital products and tips are fulfilled when paid: a paid order still waiting is a parcel to ship.
  const canFulfill = role === "seller" && order.kind === "product" && order.state === "paid";
  const fulfill = () => {
    setBusy(true);
    setFailure(null);
    market
      .getState()
      .fulfill(order.id)
      .catch((error: unknown) => setFailure(describe(error)))
      .finally(() => setBusy(false));
  };
  return (
    <Pressable testID={`order-${order.id}`} onPress={() => router.push(`/checkout/${order.id}`)}>
      <Card style={{ gap: space.sm, marginHorizontal: space.lg, marginBottom: space.md }}>
        <Row style={{ justifyContent: "space-between", alignItems: "flex-start" }}>
          <View style={{ flex: 1, gap: 2 }}>
            <Text variant="label" numberOfLines={1}>
              {order.title}
            </Text>
            <Text variant="caption" muted>
              {role === "buyer" ? "from" : "to"} @{other.username} · {ago(order.created_at)}
            </Text>
          </View>
          <View style={{ alignItems: "flex-end", gap: space.xs }}>
            <Text variant="label">{money(order.amount, order.currency)}</Text>
            <OrderStatePill state={order.state} testID={`order-state-${order.id}`} />
          </View>
        </Row>
        {canFulfill ? (
          <Button testID={`fulfill-${order.id}`} small kind="secondary" title="Mark fulfilled" busy={busy} onPress={fulfill} />
        ) : null}
        {failure ? (
          <Text variant="caption" color={colors.danger}>
            {failure}
          </Text>
        ) : null}
      </Card>
    </Pressable>
  );
}

/** The seller's money: pending until the hold ends, then available. */
function BalanceCard() {
  const market = useGrover().part(marketOf);
  const balances = useStore(market, (s) => s.balances);
  const payouts = useStore(market, (s) => s.payouts);
  useEffect(() => {
    market
      .getState()
      .loadBalances()
      .catch(() => undefined); // the orders below still show; the card stays hidden
  }, [market]);
  if (balances === null || balances.balances.length === 0) return null;
  return (
    <Card testID="balances" style={{ gap: space.sm, marginHorizontal: space.lg, marginBottom: space.md }}>
      <Text variant="label">Earnings</Text>
      {balances.balances.map((b) => (
        <Row key={b.currency} style={{ justifyContent: "space-between" }}>
          <Text variant="caption" muted>
            {b.currency}
          </Text>
          <Text variant="caption">
            {money(b.available, b.currency)} available · {money(b.pending, b.currency)} pending
            {b.in_payout > 0 ? ` · ${money(b.in_payout, b.currency)} paying out` : ""}
          </Text>
        </Row>
      ))}
      {payouts.slice(0, 3).map((p) => (
        <Text key={p.id} variant="caption" muted>
          Payout {money(p.amount, p.currency)} to {p.paypal_email}: {p.status}
        </Text>
      ))}
    </Card>
  );
}

export default function Orders() {
  const market = useGrover().part(marketOf);
  const [role, setRole] = useState<OrderRole>("buyer");
  const list = useStore(market, (s) => s.orderLists[role]);
  const orders = useStore(market, (s) => s.orders);

  const load = useCallback(
    (more = false) => {
      market
        .getState()
        .loadOrders(role, more)
        .catch(() => undefined); // kept in the list's `error`
    },
    [market, role],
  );
  useEffect(() => load(), [load]);

  const data = list.ids.map((id) => orders[id]).filter((o): o is OrderView => o !== undefined);
  let body;
  if (!list.loaded && list.ids.length === 0) {
    body = <LoadingState label="Loading orders…" />;
  } else if (list.error !== null && list.ids.length === 0) {
    body = <ErrorState message={describe(list.error)} onRetry={() => load()} />;
  } else {
    body = (
      <FlashList
        data={data}
        keyExtractor={(o) => o.id}
        renderItem={({ item }) => <OrderRow order={item} role={role} />}
        ListHeaderComponent={role === "seller" ? <BalanceCard /> : null}
        ListEmptyComponent={
          role === "buyer" ? (
            <EmptyState title="No purchases yet" hint="What you buy from creators shows here." />
          ) : (
            <EmptyState title="No sales yet" hint="Orders for your products show here as they come in." />
          )
        }
        onEndReached={() => load(true)}
        refreshing={list.loading && list.loaded}
        onRefresh={() => load()}
      />
    );
  }
  return (
    <Screen edges={["bottom"]}>
      <Stack.Screen options={{ title: "Orders" }} />
      <View style={{ padding: space.lg }}>
        <Segments options={ROLES} value={role} onChange={setRole} />
      </View>
      <View style={{ flex: 1 }}>{body}</View>
    </Screen>
  );
}
