//! The shared suite's check of recursive loop settings (kept apart so the main suite
//! file stays readable).

use quiver_model::RecursiveLoop;

use crate::conformance::new_function;
use crate::store::Store;
use crate::StoreError;

/// Terminate by default, stored per function, NotFound for an unknown one, gone with
/// the function.
pub fn recursive_loop_defaults_round_trips_and_dies_with_the_function(s: &dyn Store) {
    s.create_function(&new_function("a", false)).unwrap();
    s.create_function(&new_function("b", false)).unwrap();
    assert_eq!(s.recursive_loop("a").unwrap(), RecursiveLoop::Terminate);
    let before = s.change_counter();
    s.put_recursive_loop("a", RecursiveLoop::Allow).unwrap();
    assert!(s.change_counter() > before, "a Put is a write");
    assert_eq!(s.recursive_loop("a").unwrap(), RecursiveLoop::Allow);
    assert_eq!(s.recursive_loop("b").unwrap(), RecursiveLoop::Terminate);
    s.put_recursive_loop("a", RecursiveLoop::Terminate).unwrap();
    assert_eq!(s.recursive_loop("a").unwrap(), RecursiveLoop::Terminate);
    assert!(matches!(
        s.recursive_loop("nope"),
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        s.put_recursive_loop("nope", RecursiveLoop::Allow),
        Err(StoreError::NotFound)
    ));
    s.put_recursive_loop("a", RecursiveLoop::Allow).unwrap();
    s.delete_function("a").unwrap();
    s.create_function(&new_function("a", false)).unwrap();
    assert_eq!(s.recursive_loop("a").unwrap(), RecursiveLoop::Terminate);
}
