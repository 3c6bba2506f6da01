import { router, Stack, useLocalSearchParams } from "expo-router";
import { useState } from "react";
import { ScrollView, View } from "react-native";
import { useStore } from "zustand";

import { UserCard } from "../../../src/components/UserCard";
import { LIMITS, type ProductView } from "../../../src/protocol/types";
import { useGrover } from "../../../src/runtime/grover";
import { marketOf } from "../../../src/stores/market";
import { describe } from "../../../src/ui/errors";
import { useLoad } from "../../../src/ui/useLoad";
import { Button, Card, Divider, ErrorState, LazyImage, LoadingState, Row, Screen, Text, money } from "../../../src/ui/kit";
import { radius, space, useTheme } from "../../../src/ui/theme";

/** What a buyer can do now, in words. */
function availability(product: ProductView): { text: string; buyable: boolean } {
  if (product.status === "paused") return { text: "Not for sale right now", buyable: false };
  if (product.stock === 0) return { text: "Sold out", buyable: false };
  if (product.stock === null) return { text: "In stock", buyable: true };
  return { text: `${product.stock} left`, buyable: true };
}

function Stepper(props: { value: number; max: number; onChange: (n: number) => void }) {
  const { colors } = useTheme();
  return (
    <Row gap={space.md}>
      <Button testID="quantity-minus" title="−" kind="secondary" small disabled={props.value <= 1} onPress={() => props.onChange(props.value - 1)} />
      <View style={{ minWidth: 32, alignItems: "center", borderRadius: radius.sm, backgroundColor: colors.surfaceMuted, paddingVertical: space.xs }}>
        <Text testID="quantity" variant="label">
          {props.value}
        </Text>
      </View>
      <Button testID="quantity-plus" title="+" kind="secondary" small disabled={props.value >= props.max} onPress={() => props.onChange(props.value + 1)} />
    </Row>
  );
}

function BuyBox(props: { product: ProductView; paymentsOn: boolean }) {
  const grover = useGrover();
  const market = grover.part(marketOf);
  const { colors } = useTheme();
  const { product } = props;
  const [quantity, setQuantity] = useState(1);
  const [busy, setBusy] = useState(false);
  const [failure, setFailure] = useState<string | null>(null);
  const state = availability(product);
  const max = Math.max(1, Math.min(product.stock ?? LIMITS.ORDER_QUANTITY_MAX, LIMITS.ORDER_QUANTITY_MAX));
  const count = Math.min(quantity, max); // the stock may have dropped meanwhile

  const buy = async () => {
    setBusy(true);
    setFailure(null);
    try {
      const order = await market.getState().buy(product.id, count);
      router.push(`/checkout/${order.id}`);
    } catch (error) {
      setFailure(describe(error));
    } finally {
      setBusy(false);
    }
  };

  return (
    <Card style={{ gap: space.md }}>
      <Row style={{ justifyContent: "space-between" }}>
        <Text variant="label">Quantity</Text>
        <Stepper value={count} max={max} onChange={setQuantity} />
      </Row>
      <Row style={{ justifyContent: "space-between" }}>
        <Text muted>Total</Text>
        <Text testID="product-total" variant="title">
          {money(product.price * count, product.currency)}
        </Text>
      </Row>
      {!props.paymentsOn ? (
        <Text testID="payments-off" muted>
          Payments aren't set up on this server, so nothing can be bought here yet.
        </Text>
      ) : null}
      <Button
        testID="buy"
        title={state.buyable ? "Buy with PayPal" : state.text}
        busy={busy}
        disabled={!state.buyable || !props.paymentsOn}
        onPress={() => void buy()}
      />
      {failure ? (
        <Text testID="buy-error" variant="label" color={colors.danger}>
          {failure}
        </Text>
      ) : null}
    </Card>
  );
}

function SellerTools(props: { product: ProductView }) {
  const market = useGrover().part(marketOf);
  const { colors } = useTheme();
  const { product } = props;
  const [busy, setBusy] = useState<"pause" | "delete" | null>(null);
  const [confirmDelete, setConfirmDelete] = useState(false);
  const [failure, setFailure] = useState<string | null>(null);
  const run = async (what: "pause" | "delete", work: () => Promise<unknown>) => {
    setBusy(what);
    setFailure(null);
    try {
      await work();
    } catch (error) {
      setFailure(describe(error));
    } finally {
      setBusy(null);
    }
  };
  const paused = product.status === "paused";
  return (
    <Card style={{ gap: space.md }}>
      <Text variant="label">Your product</Text>
      <Text muted>
        {paused ? "Paused: only you can see it." : "On sale in your shop."} Orders show in your orders.
      </Text>
      <Row gap={space.sm} style={{ flexWrap: "wrap" }}>
        <Button
          testID="product-pause"
          small
          kind="secondary"
          title={paused ? "Resume sale" : "Pause sale"}
          busy={busy === "pause"}
          onPress={() => void run("pause", () => market.getState().editProduct(product.id, { status: paused ? "active" : "paused" }))}
        />
        <Button testID="product-orders" small kind="secondary" title="Orders" onPress={() => router.push("/orders")} />
        <Button
          testID="product-delete"
          small
          kind={confirmDelete ? "danger" : "ghost"}
          title={confirmDelete ? "Tap again to delete" : "Delete"}
          busy={busy === "delete"}
          onPress={() => {
            if (!confirmDelete) {
              setConfirmDelete(true);
              return;
            }
            void run("delete", async () => {
              await market.getState().deleteProduct(product.id);
              router.back();
            });
          }}
        />
      </Row>
      {failure ? (
        <Text variant="label" color={colors.danger}>
          {failure}
        </Text>
      ) : null}
    </Card>
  );
}

export default function ProductScreen() {
  const { id } = useLocalSearchParams<{ id: string }>();
  const grover = useGrover();
  const market = grover.part(marketOf);
  const me = useStore(grover.session, (s) => s.user?.id ?? null);
  const product = useStore(market, (s) => s.products[id]);
  const { colors } = useTheme();
  const { error, retry: load } = useLoad(() => market.getState().loadProduct(id), [market, id]);

  let body;
  if (product === undefined) {
    body = error !== null ? <ErrorState message={describe(error)} onRetry={load} /> : <LoadingState label="Loading product…" />;
  } else {
    const state = availability(product);
    const image = product.media_types[0]?.startsWith("image") ? product.media_urls[0] : undefined;
    const mine = product.seller.id === me;
    body = (
      <ScrollView contentContainerStyle={{ padding: space.lg, gap: space.lg, maxWidth: 560, width: "100%", alignSelf: "center" }}>
        {image !== undefined ? <LazyImage uri={image} aspectRatio={4 / 3} testID="product-image" /> : null}
        <View style={{ gap: space.xs }}>
          <Text testID="product-heading" variant="display">
            {product.title}
          </Text>
          <Row gap={space.md}>
            <Text testID="product-price-shown" variant="title" color={colors.primary}>
              {money(product.price, product.currency)}
            </Text>
            <Text testID="product-availability" variant="label" color={state.buyable ? colors.success : colors.danger}>
              {state.text}
            </Text>
          </Row>
          <Text variant="caption" muted>
            {product.kind === "digital" ? "Digital" : "Physical · shipped by the seller"}
          </Text>
        </View>
        {product.description ? <Text>{product.description}</Text> : null}
        {mine ? <SellerTools product={product} /> : <BuyBox product={product} paymentsOn={grover.config.payments} />}
        <Divider />
        <View style={{ gap: space.sm }}>
          <Text variant="caption" muted>
            Sold by @{product.seller.username}
          </Text>
          <UserCard user={product.seller} />
        </View>
        <View style={{ gap: space.xs }}>
          <Text variant="caption" muted>
            Share this product
          </Text>
          <Text testID="product-link" variant="label" color={colors.primary}>
            {grover.sidecar(`/product/${product.id}`)}
          </Text>
        </View>
      </ScrollView>
    );
  }
  return (
    <Screen edges={["bottom"]}>
      <Stack.Screen options={{ title: product?.title ?? "Product" }} />
      {body}
    </Screen>
  );
}
