"""Joining a workshop on the day with a code (the code box on the home page posts here)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import Field, field_validator

from app.deps import Anyone, FormDataDep, SettingsDep
from app.forms import FormModel, empty_form, parse_form
from app.ratelimit import client_key
from app.services.join_codes import CODE_LENGTH, normalise_code
from app.templating import render

router = APIRouter()
CODE_DIDNT_WORK = "That code didn't work. Check it with your facilitator."


class CodeForm(FormModel):
    code: str = Field(max_length=40)

    messages = {
        "code": {"missing": "Enter the code your facilitator gave you", "too_long": CODE_DIDNT_WORK}
    }

    @field_validator("code")
    @classmethod
    def _shape(cls, value: str) -> str:
        code = normalise_code(value)
        if len(code) != CODE_LENGTH:
            raise ValueError(
                f"Codes have {CODE_LENGTH} letters and numbers. Check it with your facilitator."
            )
        return code


@router.get("/join", response_class=HTMLResponse)
def join(request: Request, _: Anyone, code: str = "") -> HTMLResponse:
    return render(request, "join/code.html", {"form": empty_form(CodeForm, code=code[:40])})


@router.post("/join", response_class=HTMLResponse)
def use_code(request: Request, data: FormDataDep, settings: SettingsDep, _: Anyone) -> Response:
    form = parse_form(CodeForm, data)
    limits = request.app.state.rate_limits
    limits.check(settings.join_rate_per_ip, "join-ip", client_key(request))
    if form.ok and form.data is not None:
        limits.check(settings.join_rate_per_code, "join-code", form.data.code)
        # Joining a workshop's room arrives with workshops; until then no code works.
        form.add_error("code", CODE_DIDNT_WORK)
    return render(request, "join/code.html", {"form": form}, fragments={"join-form": "join_form"})
