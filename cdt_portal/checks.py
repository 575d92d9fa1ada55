"""System checks: what the portal needs from the machine, said in plain words."""

from django.core.checks import Error, register

PDF_PACKAGES = "libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core"


@register()
def weasyprint_can_load_pango(app_configs, **kwargs) -> list[Error]:
    try:
        import weasyprint  # noqa: F401
    except OSError as exc:
        return [
            Error(
                f"WeasyPrint cannot load Pango, so no PDF can be made: {exc}",
                hint=f"Install the system libraries: apt-get install {PDF_PACKAGES}",
                id="cdt_portal.E001",
            )
        ]
    return []
