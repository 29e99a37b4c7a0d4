from django.urls import path, register_converter
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from plaza.core.converters import SnowflakeConverter, UsernameConverter
from plaza.rest import (
    accounts,
    feed,
    graph,
    health,
    media,
    messaging,
    notifications,
    passwords,
    posts,
    realtime,
    tags,
    verification,
)

register_converter(SnowflakeConverter, "snowflake")
register_converter(UsernameConverter, "username")

urlpatterns = [
    path("health/", health.HealthView.as_view(), name="health"),
    # Accounts
    path("auth/register/", accounts.RegisterView.as_view(), name="auth-register"),
    path("auth/login/", accounts.LoginView.as_view(), name="auth-login"),
    path("auth/logout/", accounts.LogoutView.as_view(), name="auth-logout"),
    path("auth/logout-all/", accounts.LogoutAllView.as_view(), name="auth-logout-all"),
    path("auth/password/reset/", passwords.PasswordResetView.as_view(), name="auth-password-reset"),
    path(
        "auth/password/reset/confirm/",
        passwords.PasswordResetConfirmView.as_view(),
        name="auth-password-reset-confirm",
    ),
    path("auth/email/verify/", verification.EmailVerifyView.as_view(), name="auth-email-verify"),
    path(
        "auth/email/verify/resend/",
        verification.EmailVerifyResendView.as_view(),
        name="auth-email-verify-resend",
    ),
    path(
        "auth/password/change/",
        passwords.PasswordChangeView.as_view(),
        name="auth-password-change",
    ),
    path("me/", accounts.MeView.as_view(), name="me"),
    path("me/avatar/", accounts.AvatarView.as_view(), name="me-avatar"),
    path("me/header/", accounts.HeaderView.as_view(), name="me-header"),
    path("me/blocks/", graph.BlockListView.as_view(), name="me-blocks"),
    path(
        "me/followers/<username:username>/",
        graph.FollowerRemoveView.as_view(),
        name="me-follower-remove",
    ),
    path("me/mutes/", graph.MuteListView.as_view(), name="me-mutes"),
    path("me/bookmarks/", posts.BookmarkListView.as_view(), name="me-bookmarks"),
    path("me/tags/", tags.FollowedTagsView.as_view(), name="me-tags"),
    path("me/export/", accounts.MeExportView.as_view(), name="me-export"),
    path("users/", accounts.UserListView.as_view(), name="user-list"),
    path("users/<username:username>/", accounts.UserDetailView.as_view(), name="user-detail"),
    # Social graph
    path("users/<username:username>/follow/", graph.FollowView.as_view(), name="user-follow"),
    path("users/<username:username>/block/", graph.BlockView.as_view(), name="user-block"),
    path("users/<username:username>/mute/", graph.MuteView.as_view(), name="user-mute"),
    path(
        "users/<username:username>/followers/", graph.FollowersView.as_view(), name="user-followers"
    ),
    path(
        "users/<username:username>/following/", graph.FollowingView.as_view(), name="user-following"
    ),
    path("follow-requests/", graph.FollowRequestListView.as_view(), name="follow-request-list"),
    path(
        "follow-requests/<snowflake:request_id>/accept/",
        graph.FollowRequestAcceptView.as_view(),
        name="follow-request-accept",
    ),
    path(
        "follow-requests/<snowflake:request_id>/reject/",
        graph.FollowRequestRejectView.as_view(),
        name="follow-request-reject",
    ),
    # Posts, comments, likes, reposts
    path("posts/", posts.PostListView.as_view(), name="post-list"),
    path("posts/<snowflake:post_id>/", posts.PostDetailView.as_view(), name="post-detail"),
    path(
        "posts/<snowflake:post_id>/comments/",
        posts.PostCommentsView.as_view(),
        name="post-comments",
    ),
    path("posts/<snowflake:post_id>/like/", posts.LikeView.as_view(), name="post-like"),
    path("posts/<snowflake:post_id>/likes/", posts.PostLikesView.as_view(), name="post-likes"),
    path("posts/<snowflake:post_id>/repost/", posts.RepostView.as_view(), name="post-repost"),
    path(
        "posts/<snowflake:post_id>/reposted-by/",
        posts.PostRepostsView.as_view(),
        name="post-reposted-by",
    ),
    path("posts/<snowflake:post_id>/bookmark/", posts.BookmarkView.as_view(), name="post-bookmark"),
    path(
        "posts/<snowflake:post_id>/history/", posts.PostHistoryView.as_view(), name="post-history"
    ),
    path("posts/<snowflake:post_id>/pin/", posts.PinView.as_view(), name="post-pin"),
    # Hashtags, by name (any case)
    path("tags/<str:name>/", tags.TagView.as_view(), name="tag-detail"),
    path("tags/<str:name>/posts/", tags.TagPostsView.as_view(), name="tag-posts"),
    path("tags/<str:name>/follow/", tags.TagFollowView.as_view(), name="tag-follow"),
    path("trends/tags/", tags.TrendingTagsView.as_view(), name="trends-tags"),
    path(
        "comments/<snowflake:comment_id>/", posts.CommentDetailView.as_view(), name="comment-detail"
    ),
    # Feed
    path("feed/", feed.FeedView.as_view(), name="feed"),
    # Notifications
    path("notifications/", notifications.NotificationListView.as_view(), name="notification-list"),
    path(
        "notifications/unread-count/",
        notifications.UnreadCountView.as_view(),
        name="notification-unread-count",
    ),
    path(
        "notifications/read-all/",
        notifications.MarkAllReadView.as_view(),
        name="notification-read-all",
    ),
    path(
        "notifications/<snowflake:notification_id>/read/",
        notifications.MarkReadView.as_view(),
        name="notification-read",
    ),
    # Media: uploaded first, attached to a post by id
    path("media/", media.MediaUploadView.as_view(), name="media-upload"),
    path("media/<snowflake:media_id>/", media.MediaDetailView.as_view(), name="media-detail"),
    # Real time (the WebSocket itself is /ws/, outside /api/)
    path("realtime/ticket/", realtime.TicketView.as_view(), name="realtime-ticket"),
    # Direct messages
    path("conversations/", messaging.ConversationListView.as_view(), name="conversation-list"),
    path(
        "conversations/<snowflake:conversation_id>/",
        messaging.ConversationDetailView.as_view(),
        name="conversation-detail",
    ),
    path(
        "conversations/<snowflake:conversation_id>/messages/",
        messaging.ConversationMessagesView.as_view(),
        name="conversation-messages",
    ),
    path(
        "conversations/<snowflake:conversation_id>/read/",
        messaging.ConversationReadView.as_view(),
        name="conversation-read",
    ),
    # API description
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    # GET only: OPTIONS would render DRF's metadata through the page's template renderer,
    # which has no template for it (a 500).
    path(
        "docs/",
        SpectacularSwaggerView.as_view(url_name="schema", http_method_names=["get", "head"]),
        name="docs",
    ),
]
