/**
 * A scrolling list of posts (home, profile, a user's page): cards, paging at
 * the end, pull to refresh, and the list's loading, empty and error states.
 */
import { FlashList, type FlashListProps } from "@shopify/flash-list";
import type { ReactElement } from "react";
import { View } from "react-native";

import type { PostView } from "../protocol/types";
import type { PostList } from "../stores/posts";
import { describe } from "../ui/errors";
import { ErrorState, LoadingState } from "../ui/kit";
import { space } from "../ui/theme";
import { PostCard, PostListFooter, usePosts } from "./PostCard";

type Passed = Pick<
  FlashListProps<PostView>,
  "onViewableItemsChanged" | "viewabilityConfig" | "maintainVisibleContentPosition"
>;

export function PostFeed(
  props: Passed & {
    testID: string;
    list: PostList;
    header?: ReactElement;
    /** What an empty, loaded list shows. */
    empty: ReactElement;
    /** The footer's words once every page is loaded. */
    end?: string;
    refresh: () => Promise<unknown>;
    loadMore: () => Promise<unknown>;
  },
) {
  const { list, testID, header, empty, end, refresh, loadMore, ...passed } = props;
  const data = usePosts(list.ids);
  const quietly = (run: () => Promise<unknown>) => () => void run().catch(() => undefined);
  return (
    <FlashList
      {...passed}
      testID={testID}
      data={data}
      keyExtractor={(post) => post.id}
      renderItem={({ item }) => (
        <View style={{ paddingHorizontal: space.md, paddingBottom: space.md }}>
          <PostCard post={item} />
        </View>
      )}
      ListHeaderComponent={header}
      ListEmptyComponent={
        list.status === "error" ? (
          <ErrorState message={describe(list.error)} onRetry={quietly(refresh)} />
        ) : list.status === "ready" ? (
          empty
        ) : (
          <LoadingState />
        )
      }
      ListFooterComponent={<PostListFooter list={list} onRetry={quietly(loadMore)} end={end} />}
      onEndReached={quietly(loadMore)}
      onEndReachedThreshold={0.5}
      refreshing={list.refreshing}
      onRefresh={quietly(refresh)}
    />
  );
}
