//! What capacity costs on this server, when its administrator says so (`prices:` in the
//! capacity file): per CPU core, GiB of memory and GPU, per minute, and the share of that a
//! spot pod pays. PAI's spot limits (`SpotSpec.SpotPriceLimit`, yuan per minute per instance,
//! and `SpotDiscountLimit`) are checked against it at submission: a limit the spot price is
//! over could never be met, so the job is refused rather than left bidding forever.

use crate::resources::Resources;

#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Prices {
    /// Per core and minute.
    pub cpu: f64,
    /// Per GiB of memory and minute.
    pub memory: f64,
    /// Per GPU and minute.
    pub gpu: f64,
    /// What a spot pod pays, as a share of the price (0.3: 70% off).
    pub spot_discount: f64,
}

impl Prices {
    /// What a pod of `r` costs per minute.
    pub fn per_minute(&self, r: &Resources) -> f64 {
        r.cpu_milli as f64 / 1000.0 * self.cpu
            + r.memory_mib as f64 / 1024.0 * self.memory
            + f64::from(r.gpu) * self.gpu
    }

    /// What a spot pod of `r` costs per minute.
    pub fn spot_per_minute(&self, r: &Resources) -> f64 {
        self.per_minute(r) * self.spot_discount
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pod_costs_the_sum_of_its_resources_and_spot_its_share() {
        let prices = Prices {
            cpu: 0.01,
            memory: 0.001,
            gpu: 0.5,
            spot_discount: 0.3,
        };
        let pod = Resources::new(4000, 16 * 1024, 1);
        assert!((prices.per_minute(&pod) - 0.556).abs() < 1e-9);
        assert!((prices.spot_per_minute(&pod) - 0.1668).abs() < 1e-9);
    }
}
