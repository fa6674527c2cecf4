"""Files the API hands out (exports): one place sets the type and the download name."""

from __future__ import annotations

from urllib.parse import quote

from fastapi.responses import Response

from siyu.exports.tabular import ExportFile


def file_response(file: ExportFile, stem: str) -> Response:
    name = file.filename(stem)
    # RFC 6266: an ASCII fallback and the UTF-8 name (segment keys are ASCII; stems may not be).
    ascii_name = name.encode("ascii", "replace").decode().replace("?", "_").replace('"', "_")
    disposition = f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name)}"
    return Response(
        file.content,
        media_type=file.media_type,
        headers={"Content-Disposition": disposition, "X-Export-Rows": str(file.rows)},
    )
