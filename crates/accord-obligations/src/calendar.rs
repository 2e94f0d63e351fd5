//! Holiday calendars as data: a time zone, the weekend days, the years the file covers, and its
//! holidays: rules for those that recur (a fixed date, an offset from Western or Orthodox Easter,
//! a weekday on or after a date; each optionally moved when it falls on a Saturday or Sunday, and
//! limited to years), and dates for one-off ones. Asking about a year a calendar does not cover
//! is an error, never a guess.

use std::collections::BTreeMap;

use jiff::civil::{Date, Weekday};
use serde::Deserialize;

use crate::ObligationError;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct CalendarFile {
    id: String,
    name: String,
    time_zone: String,
    source: String,
    #[serde(default)]
    status: Option<String>,
    weekend: Vec<String>,
    years: [i16; 2],
    #[serde(default)]
    rules: Vec<Rule>,
    #[serde(default)]
    holidays: Vec<HolidayEntry>,
}

/// A recurring holiday: exactly one of `date` (MM-DD), `easter`, `orthodox_easter` (days from
/// Easter Sunday), or `weekday` with `on_or_after` (MM-DD: the first such weekday on or after).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Rule {
    name: String,
    #[serde(default)]
    date: Option<String>,
    #[serde(default)]
    easter: Option<i32>,
    #[serde(default)]
    orthodox_easter: Option<i32>,
    #[serde(default)]
    weekday: Option<String>,
    #[serde(default)]
    on_or_after: Option<String>,
    /// Days it moves when it falls on a Saturday (e.g. -1: observed the Friday before).
    #[serde(default)]
    saturday: Option<i32>,
    /// Days it moves when it falls on a Sunday (e.g. 1: observed the Monday after).
    #[serde(default)]
    sunday: Option<i32>,
    /// First and last year it is a holiday (inclusive), within the file's years.
    #[serde(default)]
    from_year: Option<i16>,
    #[serde(default)]
    until_year: Option<i16>,
}

fn month_day(year: i16, md: &str) -> Result<Date, String> {
    let (m, d) = md
        .split_once('-')
        .and_then(|(m, d)| Some((m.parse::<i8>().ok()?, d.parse::<i8>().ok()?)))
        .ok_or_else(|| format!("{md:?} is not MM-DD"))?;
    Date::new(year, m, d).map_err(|e| format!("{md:?} in {year}: {e}"))
}

/// Western Easter Sunday (the Gregorian computus, anonymous algorithm).
pub fn easter(year: i16) -> Result<Date, String> {
    let y = i32::from(year);
    let (a, b, c) = (y % 19, y / 100, y % 100);
    let (d, e) = (b / 4, b % 4);
    let f = (b + 8) / 25;
    let g = (b - f + 1) / 3;
    let h = (19 * a + b - d - g + 15) % 30;
    let (i, k) = (c / 4, c % 4);
    let l = (32 + 2 * e + 2 * i - h - k) % 7;
    let m = (a + 11 * h + 22 * l) / 451;
    let month = (h + l - 7 * m + 114) / 31;
    let day = (h + l - 7 * m + 114) % 31 + 1;
    Date::new(year, month as i8, day as i8).map_err(|e| e.to_string())
}

/// Orthodox Easter Sunday as a Gregorian date (the Julian computus, shifted by the calendars'
/// difference, 13 days from 1900 to 2099).
pub fn orthodox_easter(year: i16) -> Result<Date, String> {
    if !(1900..=2099).contains(&year) {
        return Err(format!("orthodox Easter is computed for 1900-2099, not {year}"));
    }
    let y = i32::from(year);
    let (a, b, c) = (y % 4, y % 7, y % 19);
    let d = (19 * c + 15) % 30;
    let e = (2 * a + 4 * b - d + 34) % 7;
    let month = (d + e + 114) / 31;
    let day = (d + e + 114) % 31 + 1;
    let julian = Date::new(year, month as i8, day as i8).map_err(|e| e.to_string())?;
    julian
        .checked_add(jiff::Span::new().days(13))
        .map_err(|e| e.to_string())
}

impl Rule {
    /// The holiday's date in `year`, if it is one that year.
    fn date_in(&self, year: i16) -> Result<Option<Date>, String> {
        if self.from_year.is_some_and(|f| year < f) || self.until_year.is_some_and(|u| year > u) {
            return Ok(None);
        }
        let measures = usize::from(self.date.is_some())
            + usize::from(self.easter.is_some())
            + usize::from(self.orthodox_easter.is_some())
            + usize::from(self.weekday.is_some());
        if measures != 1 || self.weekday.is_some() != self.on_or_after.is_some() {
            return Err(
                "needs exactly one of date, easter, orthodox_easter, weekday (with on_or_after)".into(),
            );
        }
        let add = |d: Date, n: i32| {
            d.checked_add(jiff::Span::new().days(n))
                .map_err(|e| e.to_string())
        };
        let mut date = if let Some(md) = &self.date {
            month_day(year, md)?
        } else if let Some(n) = self.easter {
            add(easter(year)?, n)?
        } else if let Some(n) = self.orthodox_easter {
            add(orthodox_easter(year)?, n)?
        } else {
            let name = self.weekday.as_deref().unwrap_or_default();
            let want = weekday(name).ok_or_else(|| format!("unknown weekday {name:?}"))?;
            let mut d = month_day(year, self.on_or_after.as_deref().unwrap_or_default())?;
            while d.weekday() != want {
                d = d.tomorrow().map_err(|e| e.to_string())?;
            }
            d
        };
        match (date.weekday(), self.saturday, self.sunday) {
            (Weekday::Saturday, Some(n), _) | (Weekday::Sunday, _, Some(n)) => date = add(date, n)?,
            _ => {}
        }
        Ok(Some(date))
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct HolidayEntry {
    date: String,
    name: String,
}

/// A working-day calendar.
#[derive(Debug, Clone)]
pub struct Calendar {
    pub id: String,
    pub name: String,
    pub time_zone: jiff::tz::TimeZone,
    pub time_zone_name: String,
    pub source: String,
    /// "unconfirmed" when which holidays apply is not established.
    pub status: Option<String>,
    weekend: Vec<Weekday>,
    years: (i16, i16),
    holidays: BTreeMap<Date, String>,
}

fn weekday(name: &str) -> Option<Weekday> {
    Some(match name {
        "monday" => Weekday::Monday,
        "tuesday" => Weekday::Tuesday,
        "wednesday" => Weekday::Wednesday,
        "thursday" => Weekday::Thursday,
        "friday" => Weekday::Friday,
        "saturday" => Weekday::Saturday,
        "sunday" => Weekday::Sunday,
        _ => return None,
    })
}

impl Calendar {
    /// Parses a calendar file; errors name the file and line.
    pub fn parse(path: &str, text: &str) -> Result<Calendar, ObligationError> {
        let bad = |message: String| ObligationError::File {
            path: path.to_owned(),
            message,
        };
        let file: CalendarFile = toml::from_str(text).map_err(|e| bad(e.to_string()))?;
        let time_zone = jiff::tz::TimeZone::get(&file.time_zone)
            .map_err(|e| bad(format!("time_zone {:?}: {e}", file.time_zone)))?;
        let weekend = file
            .weekend
            .iter()
            .map(|w| weekday(w).ok_or_else(|| bad(format!("weekend: unknown day {w:?}"))))
            .collect::<Result<_, _>>()?;
        let mut holidays = BTreeMap::new();
        if file.years[0] > file.years[1] {
            return Err(bad(format!(
                "years: {} is after {}",
                file.years[0], file.years[1]
            )));
        }
        let covered = file.years[0]..=file.years[1];
        for rule in &file.rules {
            // One year past the end: a holiday of 1 January on a Saturday is observed on the
            // 31 December before.
            for year in file.years[0]..=file.years[1].saturating_add(1) {
                if let Some(date) = rule
                    .date_in(year)
                    .map_err(|e| bad(format!("rule {:?}: {e}", rule.name)))?
                    .filter(|d| covered.contains(&d.year()))
                {
                    holidays.insert(date, rule.name.clone());
                }
            }
        }
        for h in &file.holidays {
            let date: Date = h
                .date
                .parse()
                .map_err(|e| bad(format!("holiday {:?}: {e}", h.date)))?;
            holidays.insert(date, h.name.clone());
        }
        Ok(Calendar {
            id: file.id,
            name: file.name,
            time_zone,
            time_zone_name: file.time_zone,
            source: file.source,
            status: file.status,
            weekend,
            years: (file.years[0], file.years[1]),
            holidays,
        })
    }

    /// Whether `date` is a working day; an error for a year the calendar does not cover.
    pub fn is_working_day(&self, date: Date) -> Result<bool, ObligationError> {
        if date.year() < self.years.0 || date.year() > self.years.1 {
            return Err(ObligationError::CalendarRange {
                calendar: self.id.clone(),
                year: date.year(),
            });
        }
        Ok(!self.weekend.contains(&date.weekday()) && !self.holidays.contains_key(&date))
    }

    /// The years the calendar covers (inclusive).
    pub fn years(&self) -> (i16, i16) {
        self.years
    }

    /// Every holiday in the covered years, in date order.
    pub fn holidays(&self) -> impl Iterator<Item = (Date, &str)> {
        self.holidays.iter().map(|(d, n)| (*d, n.as_str()))
    }

    /// The holiday on `date`, if any.
    pub fn holiday(&self, date: Date) -> Option<&str> {
        self.holidays.get(&date).map(String::as_str)
    }
}
