//! Holiday calendars as data: a time zone, the weekend days, and the holidays of the years the
//! file covers. Asking about a year a calendar does not cover is an error, never a guess.

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
    holidays: Vec<HolidayEntry>,
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

    /// The holiday on `date`, if any.
    pub fn holiday(&self, date: Date) -> Option<&str> {
        self.holidays.get(&date).map(String::as_str)
    }
}
