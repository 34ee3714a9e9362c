"""Every error a caller of ResiMply can meet, each with its stable API code.

    ResimplyError                 code            HTTP  retryable
    ├── RequestError                              (raised in the web tier)
    │   ├── InvalidRequest        invalid_request  400
    │   ├── Unauthorized          unauthorized     401
    │   ├── NotFound              not_found        404
    │   ├── AlreadyFinished       already_finished 409
    │   ├── PayloadTooLarge       payload_too_large 413
    │   ├── InvalidServings       invalid_servings 400   (?servings= / ?scale=)
    │   ├── InvalidUnits          invalid_units    400   (?units=)
    │   ├── ServingsUnknown       servings_unknown 422   (?servings= on a recipe without servings)
    │   ├── UnsupportedUrl        unsupported_url  422   (also a task outcome)
    │   ├── RateLimited           rate_limited     429   + Retry-After
    │   ├── TooManyConnections    too_many_connections 503
    │   └── ServiceUnavailable    service_unavailable  503 + Retry-After (Redis down or full)
    └── TaskError                                 (ends a task: the `error` message)
        ├── VideoNotFound         video_not_found        no
        ├── NotARecipe            not_a_recipe           no
        ├── VideoTooLarge         video_too_large        no
        ├── InvalidMedia          invalid_media          no
        ├── ScrapeFailed          scrape_failed          yes
        ├── ExtractionFailed      extraction_failed      yes
        ├── StorageFailed         storage_failed         yes
        ├── StepTimeout           timeout                yes
        ├── Cancelled             cancelled              no
        └── InternalError         internal               yes

Messages are written for the person who has to act on them: they say what to
change, never contain secrets, tokens or upstream response bodies.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    from .models import Usage


class ResimplyError(Exception):
    code: ClassVar[str] = "internal"
    http_status: ClassVar[int] = 500
    default_retryable: ClassVar[bool] = False
    default_message: ClassVar[str] = "Something went wrong on our side."

    def __init__(self, message: str | None = None, *, retryable: bool | None = None) -> None:
        self.message = message or self.default_message
        self.retryable = self.default_retryable if retryable is None else retryable
        super().__init__(self.message)

    def to_dict(self) -> dict[str, object]:
        return {"error": self.code, "message": self.message}


# --- request errors (HTTP) ---------------------------------------------------


class RequestError(ResimplyError):
    http_status = 400


class InvalidRequest(RequestError):
    code = "invalid_request"
    http_status = 400
    default_message = 'The request body must be JSON like {"url": "<video link>"}.'


class Unauthorized(RequestError):
    code = "unauthorized"
    http_status = 401
    default_message = "Send a valid access token: Authorization: Bearer <token>."


class NotFound(RequestError):
    code = "not_found"
    http_status = 404
    default_message = "No such task or recipe."


class AlreadyFinished(RequestError):
    code = "already_finished"
    http_status = 409
    default_message = "The task has already finished and cannot be cancelled."


class PayloadTooLarge(RequestError):
    code = "payload_too_large"
    http_status = 413
    default_message = "The request body is too large."


class RateLimited(RequestError):
    code = "rate_limited"
    http_status = 429
    default_message = "Too many requests; wait a moment and try again."

    def __init__(self, message: str | None = None, *, retry_after: int = 60) -> None:
        super().__init__(message, retryable=True)
        self.retry_after = retry_after


class TooManyConnections(RequestError):
    code = "too_many_connections"
    http_status = 503
    default_message = "This server is at its connection limit; try again shortly."


class ServiceUnavailable(RequestError):
    """Redis cannot serve the request now (down, restarting, hung, full): nothing
    is wrong with the request, which can be sent again as it is."""

    code = "service_unavailable"
    http_status = 503
    default_retryable = True

    def __init__(self, message: str | None = None, *, retry_after: int = 5) -> None:
        super().__init__(
            message or f"The service is briefly unavailable; try again in {retry_after} s.",
            retryable=True,
        )
        self.retry_after = retry_after


# --- task errors (end a task with an `error` message) -----------------------


class TaskError(ResimplyError):
    http_status = 422
    # What was already paid for upstream when this error ended the task (e.g.
    # a model answer saying "not a recipe"); set by the provider, for the cost log.
    spent: Usage | None = None


class UnsupportedUrl(TaskError, RequestError):
    code = "unsupported_url"
    http_status = 422
    default_message = (
        "This link is not supported. Send a TikTok video link such as "
        "https://www.tiktok.com/@user/video/<id> or https://vm.tiktok.com/<code>."
    )


class VideoNotFound(TaskError):
    code = "video_not_found"
    default_message = "The video is private, was deleted, or could not be found."


class NotARecipe(TaskError):
    code = "not_a_recipe"
    default_message = "This video does not seem to contain a recipe."


class VideoTooLarge(TaskError):
    code = "video_too_large"
    default_message = "The video is too large or too long to process."


class InvalidMedia(TaskError):
    code = "invalid_media"
    default_message = "The file is not a video we can read."


class ScrapeFailed(TaskError):
    code = "scrape_failed"
    default_retryable = True
    default_message = "Fetching the post failed; please try again later."


class ExtractionFailed(TaskError):
    code = "extraction_failed"
    default_retryable = True
    default_message = "Reading the recipe out of the video failed; please try again later."


class StorageFailed(TaskError):
    code = "storage_failed"
    default_retryable = True
    default_message = "Saving the recipe failed; please try again later."


class StepTimeout(TaskError):
    code = "timeout"
    default_retryable = True
    default_message = "Processing took too long and was stopped."


class Cancelled(TaskError):
    code = "cancelled"
    default_message = "The task was cancelled."


class InternalError(TaskError):
    code = "internal"
    default_retryable = True
    default_message = "Something went wrong on our side."


# --- added for issue 11 (bodies and heads) -----------------------------------


class RequestTimeout(RequestError):
    """The request body did not arrive in time (`RESIMPLY_BODY_TIMEOUT_S`)."""

    code = "request_timeout"
    http_status = 408
    default_message = "The request body did not arrive in time; send it at once."


# --- added for issue 15 (servings and units on request) ----------------------


class InvalidServings(RequestError):
    """`?servings=` or `?scale=` that is not a number in range (resimply/cooking/options.py)."""

    code = "invalid_servings"
    http_status = 400
    default_message = "servings must be a whole number from 1 to 1000."


class InvalidUnits(RequestError):
    code = "invalid_units"
    http_status = 400
    default_message = "units must be one of: metric, us, original."


class ServingsUnknown(RequestError):
    """The recipe does not say how many it serves, so `?servings=` has nothing to divide by."""

    code = "servings_unknown"
    http_status = 422
    default_message = (
        "This recipe does not say how many servings it makes, so it cannot be scaled to a "
        "number of servings; ask with scale=<factor> (e.g. scale=2) instead."
    )


# --- added for issue 15 (failed imports kept as drafts) ----------------------


class InvalidRecipe(RequestError):
    """`POST /drafts/{id}/recipe` with a body that is not a recipe (resimply/web/drafts.py)."""

    code = "invalid_recipe"
    http_status = 400
    default_message = (
        'The body must be a recipe: {"title": "...", "ingredients": [{"text": "..."}], '
        '"steps": [{"text": "..."}]}, with a title and at least one ingredient or step.'
    )


class InvalidRetry(RequestError):
    """`POST /drafts/{id}/retry` with an unknown language or extractor."""

    code = "invalid_retry"
    http_status = 400
    default_message = (
        'The body may name a "language" (two letters, such as "de") and an "extractor" '
        "this server has (see the message for which)."
    )
