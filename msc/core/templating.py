"""Template globals and filters shared by every page."""

from __future__ import annotations

from flask import Flask
from flask_babel import format_date, format_datetime, format_number, format_percent, get_locale

from msc.core.codelists import label, language_name
from msc.core.i18n import country_name, html_lang, is_rtl, locale_choices
from msc.core.roles import Role


def register_template_helpers(app: Flask) -> None:
    app.jinja_env.globals.update(
        country_name=country_name,
        label=label,
        language_name=language_name,
        html_lang=html_lang,
        is_rtl=is_rtl,
        locale_choices=locale_choices,
        Role=Role,
    )
    app.jinja_env.filters.update(
        datetime=lambda value, fmt="medium": format_datetime(value, fmt) if value else "",
        date=lambda value, fmt="medium": format_date(value, fmt) if value else "",
        number=format_number,
        percent=lambda value: format_percent(value / 100),
        zip_labels=lambda codes, list_name, counts: [
            (label(list_name, c), counts[c]) for c in codes
        ],
    )

    @app.context_processor
    def _locale():
        return {"current_locale": str(get_locale()), "review_count": _review_count}


def _review_count() -> int:
    """The supervisor's waiting referrals, for the navigation."""
    from flask_login import current_user

    from msc.referrals.queries import queue_count

    if not current_user.is_authenticated or current_user.role != Role.SUPERVISOR:
        return 0
    return queue_count(current_user.centre_id)
