//! Reserved concurrency: the account rule, totals, removal with the function.

use super::*;

pub(super) fn reserved_concurrency_is_checked_totalled_and_dropped(s: &dyn Store) {
    // The account rule of the model, as the API passes it: a limit of 150.
    let rule =
        |n: u64| move |others: u64| quiver_model::concurrency::check_reservation(150, others, n);
    assert!(matches!(
        s.put_reserved_concurrency("f", Some(1), &rule(1)),
        Err(StoreError::NotFound)
    ));
    s.create_function(&new_function("f", false)).unwrap();
    s.create_function(&new_function("g", false)).unwrap();
    assert_eq!(s.reserved_concurrency("f").unwrap(), None);
    let before = s.change_counter();
    assert_eq!(
        s.put_reserved_concurrency("f", Some(30), &rule(30))
            .unwrap(),
        30
    );
    assert!(
        s.change_counter() > before,
        "a reservation is a metadata write"
    );
    // g may take 20 more (100 left unreserved), not 21; f's own 30 is replaced, so f
    // may go to 50 but not 51.
    assert!(matches!(
        s.put_reserved_concurrency("g", Some(21), &rule(21)),
        Err(StoreError::Invalid(
            quiver_model::ModelError::InvalidParameter(_)
        ))
    ));
    assert_eq!(
        s.reserved_concurrency("g").unwrap(),
        None,
        "a refusal writes nothing"
    );
    assert_eq!(
        s.put_reserved_concurrency("g", Some(0), &rule(0)).unwrap(),
        30
    );
    assert_eq!(
        s.reserved_concurrency("g").unwrap(),
        Some(0),
        "0 is a reservation"
    );
    assert_eq!(
        s.put_reserved_concurrency("f", Some(50), &rule(50))
            .unwrap(),
        50
    );
    assert!(s
        .put_reserved_concurrency("f", Some(51), &rule(51))
        .is_err());
    assert_eq!(s.total_reserved_concurrency().unwrap(), 50);
    assert_eq!(s.usage().unwrap().reserved_concurrency, 50);
    assert_eq!(
        s.put_reserved_concurrency("f", None, &|_| panic!("no check on removal"))
            .unwrap(),
        0
    );
    assert_eq!(s.reserved_concurrency("f").unwrap(), None);
    s.put_reserved_concurrency("f", Some(7), &rule(7)).unwrap();
    s.delete_function("f").unwrap();
    assert_eq!(
        s.total_reserved_concurrency().unwrap(),
        0,
        "deleted with its function"
    );
}
