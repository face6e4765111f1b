//! Status levels, status codes and the well-known command and data message
//! names, defined once for the server, the client, the relay and the
//! recorder.
//!
//! Rules: code that builds or matches an `onStatus`/`_result`/`_error`
//! info object, or a command/data name, uses these constants rather than a
//! string literal, so a typo cannot make two sides disagree. The strings are
//! those of the Adobe RTMP specification and FMS/nginx-rtmp practice.

/// Levels of an info object.
pub const LEVEL_STATUS: &str = "status";
pub const LEVEL_WARNING: &str = "warning";
pub const LEVEL_ERROR: &str = "error";

/// `NetConnection` codes.
pub const CODE_CONNECT_SUCCESS: &str = "NetConnection.Connect.Success";
pub const CODE_CONNECT_REJECTED: &str = "NetConnection.Connect.Rejected";
pub const CODE_CALL_FAILED: &str = "NetConnection.Call.Failed";
/// E-RTMP v2: the server asks the client to reconnect (level `status`,
/// optional `tcUrl` where to), sent only to clients with `capsEx` Reconnect.
pub const CODE_CONNECT_RECONNECT_REQUEST: &str = "NetConnection.Connect.ReconnectRequest";

/// `NetStream` codes.
pub const CODE_PUBLISH_START: &str = "NetStream.Publish.Start";
pub const CODE_PUBLISH_BAD_NAME: &str = "NetStream.Publish.BadName";
pub const CODE_PUBLISH_DENIED: &str = "NetStream.Publish.Denied";
pub const CODE_PLAY_FAILED: &str = "NetStream.Play.Failed";
pub const CODE_UNPUBLISH_SUCCESS: &str = "NetStream.Unpublish.Success";
pub const CODE_PLAY_RESET: &str = "NetStream.Play.Reset";
pub const CODE_PLAY_START: &str = "NetStream.Play.Start";
pub const CODE_PLAY_STOP: &str = "NetStream.Play.Stop";
pub const CODE_PLAY_STREAM_NOT_FOUND: &str = "NetStream.Play.StreamNotFound";
pub const CODE_PLAY_UNPUBLISH_NOTIFY: &str = "NetStream.Play.UnpublishNotify";
pub const CODE_PLAY_PUBLISH_NOTIFY: &str = "NetStream.Play.PublishNotify";
pub const CODE_PAUSE_NOTIFY: &str = "NetStream.Pause.Notify";
pub const CODE_UNPAUSE_NOTIFY: &str = "NetStream.Unpause.Notify";

/// Names of answers and notifications (first value of a command message).
pub const CMD_RESULT: &str = "_result";
pub const CMD_ERROR: &str = "_error";
pub const CMD_ON_STATUS: &str = "onStatus";

/// Names of data messages (first value of a data message).
pub const DATA_SET_DATA_FRAME: &str = "@setDataFrame";
pub const DATA_CLEAR_DATA_FRAME: &str = "@clearDataFrame";
pub const DATA_ON_METADATA: &str = "onMetaData";
pub const DATA_SAMPLE_ACCESS: &str = "|RtmpSampleAccess";
