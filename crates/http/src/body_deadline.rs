//! The slow-body defence: [`BodyDeadline`], the time a request's body gets to arrive once its head has, and the
//! middleware that holds every body reader to it. actix times only the head, so without it a client trickling a
//! body one byte at a time holds a connection (and a worker's attention) for as long as it likes.

use std::cell::{Cell, RefCell};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use actix_web::body::{BodySize, BoxBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::error::PayloadError;
use actix_web::http::ConnectionType;
use actix_web::middleware::Next;
use actix_web::web::Bytes;
use actix_web::{Error, HttpMessage, ResponseError};
use futures_util::Stream;
use tokio::time::Sleep;

use crate::problem::Problem;

/// How long a request's body may take to arrive, counted from when the request reached the service. Registered as
/// app data (`App::app_data(BodyDeadline(…))`) for [`limit_body_time`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BodyDeadline(pub Duration);

/// What a body reader gets once the deadline has passed, in place of the rest of the body.
#[derive(Debug, thiserror::Error)]
#[error("the request body did not arrive in time")]
struct BodyTooSlow;

fn too_slow() -> PayloadError {
    PayloadError::Io(std::io::Error::new(std::io::ErrorKind::TimedOut, BodyTooSlow))
}

/// Whether a body reader's error is the deadline passing (rather than a body that is malformed or too large).
pub(crate) fn is_too_slow(error: &PayloadError) -> bool {
    matches!(error, PayloadError::Io(error) if error.get_ref().is_some_and(|inner| inner.is::<BodyTooSlow>()))
}

/// Middleware: a request whose body has not all arrived by its [`BodyDeadline`] is answered 408, whichever reader
/// was waiting for it, and its connection is closed, since the rest of the body may still be on the way. A body the
/// service stopped reading before its end (a 408, a rejection before the body is read, a body too large) also closes
/// the connection once the response is sent, as actix does for `Content-Length` bodies, rather than being drained
/// for as long as the client takes to send it. Requests without a body, and every request when no deadline is
/// registered, pass untouched.
pub async fn limit_body_time(
    mut request: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let Some(&BodyDeadline(limit)) = request.app_data::<BodyDeadline>() else {
        return Ok(next.call(request).await?.map_into_boxed_body());
    };
    let body = request.take_payload();
    if matches!(body, Payload::None) {
        request.set_payload(body);
        return Ok(next.call(request).await?.map_into_boxed_body());
    }
    let body = Rc::new(SharedBody { body: RefCell::new(body), passed: Cell::new(false), ended: Cell::new(false) });
    let reader = DeadlineBody { body: Rc::clone(&body), deadline: Box::pin(tokio::time::sleep(limit)) };
    request.set_payload(Payload::from(Box::pin(reader) as BodyStream));
    let response = next.call(request).await?;
    let response = if body.passed.get() {
        // Whatever the reader made of the cut-off body (a 400, or a handler's answer to half of it), the client is
        // told why, and only once the connection is closed can nothing more of the body be taken for the next
        // request.
        let (request, _) = response.into_parts();
        let mut response = Problem::request_timeout().error_response();
        response.head_mut().set_connection_type(ConnectionType::Close);
        ServiceResponse::new(request, response)
    } else {
        response.map_into_boxed_body()
    };
    if body.ended.get() {
        return Ok(response);
    }
    // actix's h1 dispatcher closes the connection after a response to a body still on its way only while that
    // body's reader is alive: once the reader is dropped, the rest of a chunked body is read and thrown away, with no
    // deadline and whatever the response's `Connection: close`, and a request after it is served on the same
    // connection. So the reader lives until the last byte of the response is out.
    Ok(response.map_body(|_, response| BoxBody::new(KeepingBody { response, _body: body })))
}

/// What actix takes as a request body (its own alias for it is not exported).
type BodyStream = Pin<Box<dyn Stream<Item = Result<Bytes, PayloadError>>>>;

/// A request's body, shared by its reader ([`DeadlineBody`]) and [`limit_body_time`].
struct SharedBody {
    body: RefCell<Payload>,
    /// Set once the deadline has passed with the body unfinished.
    passed: Cell<bool>,
    /// Set once the whole body has been read.
    ended: Cell<bool>,
}

/// A body that ends in [`BodyTooSlow`] if it has not ended by its deadline.
struct DeadlineBody {
    body: Rc<SharedBody>,
    deadline: Pin<Box<Sleep>>,
}

impl Stream for DeadlineBody {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        let shared = &*this.body;
        if shared.passed.get() {
            return Poll::Ready(None);
        }
        // What has arrived is handed over even past the deadline: the deadline is on the client, not on the reader.
        if let ready @ Poll::Ready(_) = Pin::new(&mut *shared.body.borrow_mut()).poll_next(context) {
            if matches!(ready, Poll::Ready(None)) {
                shared.ended.set(true);
            }
            return ready;
        }
        ready!(this.deadline.as_mut().poll(context));
        shared.passed.set(true);
        Poll::Ready(Some(Err(too_slow())))
    }
}

/// A response body that keeps the request's unfinished body alive until the response has all been sent.
struct KeepingBody {
    response: BoxBody,
    _body: Rc<SharedBody>,
}

impl MessageBody for KeepingBody {
    type Error = <BoxBody as MessageBody>::Error;

    fn size(&self) -> BodySize {
        self.response.size()
    }

    fn poll_next(self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<Option<Result<Bytes, Self::Error>>> {
        Pin::new(&mut self.get_mut().response).poll_next(context)
    }
}

#[cfg(test)]
mod tests {
    use actix_web::error::JsonPayloadError;
    use actix_web::http::StatusCode;
    use actix_web::http::header::CONTENT_TYPE;
    use actix_web::test::{TestRequest, call_service, init_service, read_body};
    use actix_web::{App, HttpResponse, web};
    use futures_util::{StreamExt, stream};
    use serde_json::{Map, Value};

    use super::*;
    use crate::body::JsonObject;

    /// Posts to `path` a body of which `sent` arrives at once and the rest, if `stalls`, never.
    async fn post(path: &str, sent: &'static [u8], stalls: bool) -> ServiceResponse {
        let app = App::new()
            .app_data(BodyDeadline(Duration::from_millis(100)))
            .app_data(web::JsonConfig::default().error_handler(|error, _| crate::errors::json_error(error).into()))
            .route("/json", web::post().to(|_: JsonObject<Map<String, Value>>| async { HttpResponse::Ok().finish() }))
            .route("/bytes", web::post().to(|_: Bytes| async { HttpResponse::Ok().finish() }))
            .wrap(actix_web::middleware::from_fn(limit_body_time));
        let app = init_service(app).await;
        let start = stream::once(async move { Ok(Bytes::from_static(sent)) });
        let body: BodyStream = if stalls { Box::pin(start.chain(stream::pending())) } else { Box::pin(start) };
        let (request, _) = TestRequest::post()
            .uri(path)
            .insert_header((CONTENT_TYPE, "application/json"))
            .to_request()
            .replace_payload(Payload::from(body));
        call_service(&app, request).await
    }

    async fn assert_request_timeout(response: ServiceResponse) {
        assert_eq!(response.status(), StatusCode::REQUEST_TIMEOUT);
        assert_eq!(response.headers().get(CONTENT_TYPE).unwrap(), "application/problem+json");
        assert!(!response.response().keep_alive(), "the connection must be closed");
        let body: Value = serde_json::from_slice(&read_body(response).await).unwrap();
        assert_eq!(body["type"], "/problems/request-timeout");
        assert_eq!(body["status"], 408);
    }

    #[actix_web::test]
    async fn a_json_body_that_stops_arriving_gets_408_and_a_closed_connection() {
        assert_request_timeout(post("/json", b"{\"email\":", true).await).await;
    }

    #[actix_web::test]
    async fn any_body_reader_is_held_to_the_deadline() {
        assert_request_timeout(post("/bytes", b"{\"email\":", true).await).await;
    }

    #[actix_web::test]
    async fn a_body_that_arrives_in_time_is_read_as_usual() {
        assert_eq!(post("/json", b"{}", false).await.status(), StatusCode::OK);
        assert_eq!(post("/bytes", b"{}", false).await.status(), StatusCode::OK);
    }

    #[test]
    fn the_json_reader_reports_the_deadline_as_408() {
        let error = JsonPayloadError::Payload(too_slow());
        assert_eq!(crate::errors::json_error(error).status(), StatusCode::REQUEST_TIMEOUT);
        let other = JsonPayloadError::Payload(PayloadError::Io(std::io::ErrorKind::TimedOut.into()));
        assert_eq!(crate::errors::json_error(other).status(), StatusCode::BAD_REQUEST, "only our deadline is a 408");
    }
}
