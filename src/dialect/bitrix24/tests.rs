//! Unit tests of the dialect's pure parts; the methods are tested end to end
//! over HTTP in tests/bitrix24.rs.

use super::Method;

#[test]
fn method_names_are_case_insensitive_with_optional_json() {
    assert_eq!(Method::parse("crm.lead.add"), Some(Method::LeadAdd));
    assert_eq!(Method::parse("CRM.Lead.Add.json"), Some(Method::LeadAdd));
    assert_eq!(Method::parse("batch"), Some(Method::Batch));
    assert_eq!(Method::parse("crm.leed.add"), None);
    assert_eq!(Method::parse("crm.lead.add.xml"), None);
}
