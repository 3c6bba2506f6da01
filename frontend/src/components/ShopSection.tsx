/**
 * A creator's shop on their profile: their products as a row of cards, each
 * leading to its page. On my own profile it also offers "Add product" (and
 * my orders); on someone else's it shows nothing until they sell something.
 */
import { router } from "expo-router";
import { type ReactElement, useEffect } from "react";
import { Pressable, ScrollView, View } from "react-native";
import { useStore } from "zustand";

import type { ProductView } from "../protocol/types";
import { useGrover } from "../runtime/grover";
import { marketOf } from "../stores/market";
import { describe } from "../ui/errors";
import { Button, LazyImage, Row, Text, money } from "../ui/kit";
import { radius, space, useTheme } from "../ui/theme";

const CARD_WIDTH = 156;

function ProductCard(props: { product: ProductView }) {
  const { colors } = useTheme();
  const { product } = props;
  const image = product.media_types[0]?.startsWith("image") ? product.media_urls[0] : undefined;
  const note = product.status === "paused" ? "Paused" : product.stock === 0 ? "Sold out" : null;
  return (
    <Pressable
      testID={`shop-product-${product.id}`}
      accessibilityRole="link"
      onPress={() => router.push(`/product/${product.id}`)}
      style={({ pressed }) => ({
        width: CARD_WIDTH,
        borderRadius: radius.md,
        borderWidth: 1,
        borderColor: colors.border,
        backgroundColor: colors.surface,
        overflow: "hidden",
        opacity: pressed ? 0.8 : 1,
      })}
    >
      {image !== undefined ? (
        <LazyImage uri={image} aspectRatio={1} />
      ) : (
        <View style={{ aspectRatio: 1, backgroundColor: colors.surfaceMuted, alignItems: "center", justifyContent: "center" }}>
          <Text variant="display" muted>
            {(product.title[0] ?? "?").toUpperCase()}
          </Text>
        </View>
      )}
      <View style={{ padding: space.sm, gap: 2 }}>
        <Text variant="label" numberOfLines={1}>
          {product.title}
        </Text>
        <Row style={{ justifyContent: "space-between" }}>
          <Text variant="caption" color={colors.primary}>
            {money(product.price, product.currency)}
          </Text>
          {note !== null ? (
            <Text variant="caption" muted>
              {note}
            </Text>
          ) : null}
        </Row>
      </View>
    </Pressable>
  );
}

export function ShopSection(props: { sellerId: string }): ReactElement | null {
  const grover = useGrover();
  const market = grover.part(marketOf);
  const mine = useStore(grover.session, (s) => s.user?.id === props.sellerId);
  const shop = useStore(market, (s) => s.shops[props.sellerId]);
  const products = useStore(market, (s) => s.products);
  const { colors } = useTheme();

  useEffect(() => {
    market
      .getState()
      .loadShop(props.sellerId)
      .catch(() => undefined); // kept in the shop's `error`
  }, [market, props.sellerId]);

  const items = (shop?.ids ?? []).map((id) => products[id]).filter((p): p is ProductView => p !== undefined);
  if (!mine && items.length === 0) return null;

  return (
    <View testID="shop" style={{ gap: space.sm, paddingVertical: space.md }}>
      <Row style={{ justifyContent: "space-between", paddingHorizontal: space.lg }}>
        <Text variant="title">Shop</Text>
        {mine ? (
          <Row gap={space.sm}>
            <Button testID="shop-orders" small kind="ghost" title="Orders" onPress={() => router.push("/orders")} />
            <Button testID="shop-add" small kind="secondary" title="Add product" onPress={() => router.push("/product/new")} />
          </Row>
        ) : null}
      </Row>
      {items.length > 0 ? (
        <ScrollView
          horizontal
          showsHorizontalScrollIndicator={false}
          contentContainerStyle={{ gap: space.md, paddingHorizontal: space.lg }}
          onScroll={({ nativeEvent: n }) => {
            // Near the end: the next page of the shop.
            if (n.contentOffset.x + n.layoutMeasurement.width > n.contentSize.width - CARD_WIDTH * 2) {
              market.getState().loadShop(props.sellerId, true).catch(() => undefined);
            }
          }}
          scrollEventThrottle={200}
        >
          {items.map((p) => (
            <ProductCard key={p.id} product={p} />
          ))}
        </ScrollView>
      ) : shop?.error ? (
        <Text variant="caption" color={colors.danger} style={{ paddingHorizontal: space.lg }}>
          {describe(shop.error)}
        </Text>
      ) : shop?.loaded ? (
        <Text muted style={{ paddingHorizontal: space.lg }}>
          Sell prints, presets, merch or lessons to the people who follow you.
        </Text>
      ) : null}
    </View>
  );
}
