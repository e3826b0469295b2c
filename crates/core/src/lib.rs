//! Custodian's functional core: the domain, the access policy and the
//! interchange format. No I/O beyond `std::io` traits, no async, no clock:
//! time is always a parameter.

pub mod interchange;
pub mod level;
pub mod model;
pub mod order;
pub mod policy;

pub use level::Level;
pub use model::{
    Action, Approach, ContactReport, Counterpart, Document, Event, HrEvent, HrKind, Medium, Person,
    Projects,
};
pub use policy::{decide, Approval, Decision, DenyReason, Grant, PersonAt, RequestContext};
