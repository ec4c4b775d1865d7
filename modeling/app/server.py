"""The web app: a page to date one photograph, a JSON API, and the archive's records page.

`create_app(AppConfig)` loads the model once; inference runs on a thread pool so the event
loop keeps answering (health checks, other uploads) while the model works. The archive's images
are dated on a background thread into the database (modeling/app/dating.py), uploads first;
/records only reads what is there.

Routes:
    GET  /                 the upload page (drop or pick a photograph)
    POST /                 the same page with the result (works without JavaScript)
    POST /ui/predict       the result as an HTML fragment (what the page's script inserts)
    POST /api/predict      JSON, the object `cli.py predict --format json` prints for one file (an Answer), with
                           `people` (count, category, boxes) when served with people detection
    GET  /api/model        JSON, the dater's describe() (what the model card shows)
    GET  /healthz          JSON, {"status": "ok", ...}
    GET  /records          the archive's records beside the model's estimates (?page=N&sort=...&lang=... and the
                           filters period, holder, suspect, undated, kind)
    GET  /records/image/N  the stored file of image N (thumbnails on /records)
"""

from __future__ import annotations

import asyncio
import functools
import logging
import threading
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool

from dataset.detect import ImageFindings
from dataset.imageio import load_image
from dataset.people import detector_version
from db.pixels import UPLOAD_MAX_PIXELS
from db.session import NoArchive, make_engine, masked
from modeling.answer import Answer, RecordFacts
from modeling.app.dating import ArchiveDater, UploadsFirst, model_key, out_of_fold_for
from modeling.app.i18n import LANGUAGES, pick_language, strings
from modeling.app.people import find_people, people_json, people_sentence, people_view
from modeling.app.records import KINDS, SORTS, image_path, list_records, records_query
from modeling.app.uploads import UploadRejected, human_size, not_a_photograph, receive_upload
from modeling.app.views import PREVIEW_MAX_SIDE, model_view, preview_data_uri, result_view, source_name
from modeling.errors import ImageTooLarge, UnreadableImage
from modeling.inference.dater import load_dater, run_description

APP_DIR = Path(__file__).parent
logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class AppConfig:
    run_dir: Path  # the training run that answers: model.safetensors, config.json, metrics.json
    max_upload_bytes: int = 20 * 1024 * 1024  # a larger file (or request body) gets 413
    max_upload_pixels: int = UPLOAD_MAX_PIXELS  # a photograph with more pixels gets 400 (db.pixels)
    concurrent_decodes: int = 2  # pictures decoded at once (uploads and the archive together): bounds memory
    db_url: str | None = (
        None  # the archive for /records; None (or a missing SQLite file) shows how to get one
    )
    records_per_page: int = 25  # rows on each /records page
    top_k: int = 3  # how many periods an answer lists with their probability
    inference_threads: int = 2  # threads that decode and date uploads, off the event loop
    # date the archive's undated images on a background thread from startup (else from the first /records)
    precompute_records: bool = False
    dating_batch_size: int = 32  # archive images per forward pass; an upload waits for at most one batch
    dating_progress_bar: bool = True  # show the archive worker's progress bar on stderr
    find_people: bool = False  # also find the faces and figures in an upload and draw their boxes (needs OpenCV)


@dataclass(frozen=True)
class DatedUpload:
    filename: str  # as uploaded
    answer: Answer  # the dater's answer (an upload brings no catalogue facts)
    preview: str | None  # data: URI of the photograph, for pages (None for the JSON API)
    top_k: int = 3  # periods listed with their probability
    people: ImageFindings | None = None  # the faces and figures found; None when the app does not look for them

    def as_json(self) -> dict:
        """The object `cli.py predict --format json` prints for one file, plus `people` when the app looks for them."""
        said = self.answer.to_dict()
        extra = {} if self.people is None else {"people": people_json(self.people)}
        return {"file": self.filename, **said, "top": said["top"][: self.top_k], **extra}


def _open_archive(db_url: str | None) -> tuple[Engine | None, str | None]:
    """An engine for /records, or None with the (masked) URL to mention when there is no archive there.

    Serving never creates an empty archive as a side effect.
    """
    if db_url is None:
        return None, None
    try:
        return make_engine(db_url, must_exist=True), masked(db_url)
    except NoArchive as exc:
        logger.warning("%s /records stays empty until there is one.", exc)
        return None, masked(db_url)


def create_app(config: AppConfig) -> FastAPI:
    """The FastAPI app for `config`; loads the model now, so a bad run directory fails here.

    >>> app = create_app(AppConfig(run_dir=Path("runs/demo")))  # doctest: +SKIP
    """
    if config.find_people:
        detector_version()  # OpenCV missing: PeopleUnavailable now, with how to install it, not at the first upload
    dater = load_dater(config.run_dir)
    description = {**run_description(config.run_dir), **dater.describe()}
    model = model_view(description, Path(config.run_dir).name)
    engine, archive_url = _open_archive(config.db_url)
    key = model_key(config.run_dir)
    uploads = UploadsFirst()
    decodes = threading.BoundedSemaphore(config.concurrent_decodes)
    archive = None
    if engine is not None:
        archive = ArchiveDater(engine, dater, key, batch_size=config.dating_batch_size, uploads=uploads,
                               progress=config.dating_progress_bar, decodes=decodes)
        archive.store_out_of_fold(out_of_fold_for(config.run_dir, description, archive_url), description["edges"],
                                  description["labels"])
    executor = ThreadPoolExecutor(max_workers=config.inference_threads, thread_name_prefix="inference")
    templates = Jinja2Templates(directory=str(APP_DIR / "templates"))
    templates.env.filters["source_name"] = source_name
    templates.env.filters["people_sentence"] = people_sentence

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if archive is not None and config.precompute_records:
            archive.start()
        yield
        if archive is not None:
            # The current batch finishes (and is committed) unless it takes longer than this.
            await run_in_threadpool(archive.stop, 10.0)
        executor.shutdown(wait=False, cancel_futures=True)
        if engine is not None:
            engine.dispose()

    app = FastAPI(
        title="fotofecha",
        summary="Date old photographs",
        docs_url="/api/docs",
        redoc_url=None,
        lifespan=lifespan,
    )
    app.mount("/static", StaticFiles(directory=str(APP_DIR / "static")), name="static")
    app.state.config = config
    app.state.answerer = dater  # the run's Dater (PictureDater or FusedDater)
    app.state.model_key = key
    app.state.dater = archive  # the archive's background ArchiveDater, None without a database

    def date_bytes(filename: str, data: bytes, with_preview: bool) -> DatedUpload:
        # Decoded exactly as `cli.py predict` decodes a file, so both give the same answer.
        with decodes:
            picture = load_image(data, min_side=dater.img_size, max_pixels=config.max_upload_pixels)
            shown = load_image(data, min_side=PREVIEW_MAX_SIDE) if with_preview else None
        said = dater.date([RecordFacts()], [picture])[0]
        preview = preview_data_uri(shown) if shown is not None else None
        people = None
        if config.find_people:
            with decodes:
                people = find_people(data, max_pixels=config.max_upload_pixels)
        return DatedUpload(filename, said, preview, config.top_k, people)

    async def date_upload(request: Request, with_preview: bool) -> DatedUpload:
        """Receive, decode and date the upload; raises UploadRejected (400/413) for anything it cannot date."""
        upload = await receive_upload(request, config.max_upload_bytes)
        loop = asyncio.get_running_loop()
        work = functools.partial(date_bytes, upload.filename, upload.data, with_preview)
        try:
            with uploads.upload():
                return await loop.run_in_executor(executor, work)
        except (UnreadableImage, ImageTooLarge) as exc:
            raise not_a_photograph(upload.filename, exc, config.max_upload_pixels) from exc

    def page_context(request: Request, **extra) -> dict:
        lang = pick_language(request.query_params.get("lang"))
        switch = {code: str(request.url.include_query_params(lang=code)) for code in LANGUAGES}
        return {
            "request": request,
            "lang": lang,
            "t": strings(lang),
            "switch": switch,
            "model": model,
            "max_upload": human_size(config.max_upload_bytes),
            **extra,
        }

    async def dated_page(request: Request, template: str) -> HTMLResponse:
        status, result, error = 200, None, None
        try:
            dated = await date_upload(request, with_preview=True)
            result = result_view(dated.filename, dated.answer, dated.preview, config.top_k,
                                 None if dated.people is None else people_view(dated.people))
        except UploadRejected as exc:
            # The page speaks the person's language and words; the API's `error` stays the developer's.
            status, error = exc.status_code, strings(pick_language(request.query_params.get("lang")))[
                exc.page_key].format(**exc.page_params)
        return templates.TemplateResponse(
            request, template, page_context(request, result=result, error=error), status_code=status
        )

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def index(request: Request) -> HTMLResponse:
        return templates.TemplateResponse(
            request, "index.html", page_context(request, result=None, error=None)
        )

    @app.post("/", response_class=HTMLResponse, include_in_schema=False)
    async def index_post(request: Request) -> HTMLResponse:
        return await dated_page(request, "index.html")

    @app.post("/ui/predict", response_class=HTMLResponse, include_in_schema=False)
    async def ui_predict(request: Request) -> HTMLResponse:
        return await dated_page(request, "_result.html")

    @app.post(
        "/api/predict",
        summary="Date one photograph",
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {
                    "multipart/form-data": {
                        "schema": {
                            "type": "object",
                            "required": ["file"],
                            "properties": {"file": {"type": "string", "format": "binary"}},
                        }
                    }
                },
            }
        },
    )
    async def api_predict(request: Request) -> JSONResponse:
        """Multipart field `file` -> {"file", **Answer.to_dict()}; errors -> {"file", "error"}."""
        try:
            dated = await date_upload(request, with_preview=False)
        except UploadRejected as exc:
            return JSONResponse({"file": exc.filename, "error": str(exc)}, status_code=exc.status_code)
        return JSONResponse(dated.as_json())

    @app.get("/api/model", summary="Describe the model that answers")
    async def api_model() -> dict:
        return description

    @app.get("/healthz", summary="Liveness")
    async def healthz() -> dict:
        return {"status": "ok", "arch": model.arch, "run": model.run}

    @app.get("/records", response_class=HTMLResponse, include_in_schema=False)
    async def records(request: Request) -> HTMLResponse:
        query = records_query(request.query_params, config.records_per_page)
        listing = None
        if engine is not None:
            listing = await run_in_threadpool(list_records, engine, key, query)
            if not listing.dating_complete:
                archive.start()  # under --lazy the first visit starts it; later, it dates newly crawled images
        context = page_context(request, listing=listing, query=query, sort=query.sort, sorts=SORTS, kinds=KINDS,
                               archive_url=archive_url)
        return templates.TemplateResponse(request, "records.html", context)

    @app.get("/records/image/{image_id}", include_in_schema=False)
    async def record_image(image_id: int) -> Response:
        path = await run_in_threadpool(image_path, engine, image_id) if engine is not None else None
        if path is None:
            return JSONResponse({"error": f"No stored file for image {image_id}."}, status_code=404)
        return FileResponse(path, headers={"Cache-Control": "max-age=3600"})

    return app


def serve(config: AppConfig, host: str = "127.0.0.1", port: int = 8000) -> None:
    """Load the model and serve the app until interrupted (Ctrl-C)."""
    import uvicorn

    app = create_app(config)
    uvicorn.run(app, host=host, port=port, log_level="info")
