"""Seed the working calendar with every year the installed ``chinese_calendar``
package knows (2004–2026 for version 1.11): only the special days — holidays
on Monday–Friday, make-up working days on a weekend — and each of those
years marked complete. Later years: ``shanzhi calendar import-year`` or
``shanzhi calendar sync-package`` after upgrading the package."""

from django.db import migrations

SOURCE = "chinese_calendar"


def seed(apps, schema_editor):
    from shanzhi.core.calendar import package_special_days, package_version, package_years

    CalendarDay = apps.get_model("core", "CalendarDay")
    CalendarYear = apps.get_model("core", "CalendarYear")
    present = set(CalendarYear.objects.values_list("year", flat=True))
    years = sorted(package_years() - present)
    CalendarDay.objects.bulk_create([
        CalendarDay(date=d, is_working=working, name=name, source=SOURCE)
        for d, (working, name) in package_special_days().items() if d.year in years])
    CalendarYear.objects.bulk_create([
        CalendarYear(year=year, complete=True, source=SOURCE, note=package_version())
        for year in years])


def unseed(apps, schema_editor):
    apps.get_model("core", "CalendarDay").objects.filter(source=SOURCE).delete()
    apps.get_model("core", "CalendarYear").objects.filter(source=SOURCE).delete()


class Migration(migrations.Migration):

    dependencies = [("core", "0001_initial")]

    operations = [migrations.RunPython(seed, unseed)]
