//! The EcsSpec catalog: real Alibaba Cloud instance types that PAI-DLC offers, with their
//! vCPU, memory and GPUs (ECS instance-family documentation). A job's `EcsSpec` is looked up
//! here to know what each pod requests.

use crate::resources::Resources;

#[derive(Debug, Clone, PartialEq)]
pub struct InstanceType {
    pub name: &'static str,
    pub cpu: u32,
    pub memory_gib: u32,
    pub gpu: u32,
    /// Empty for CPU instances.
    pub gpu_type: &'static str,
    /// Per card, GiB.
    pub gpu_memory_gib: u32,
}

impl InstanceType {
    pub fn accelerator_type(&self) -> &'static str {
        if self.gpu > 0 {
            "GPU"
        } else {
            "CPU"
        }
    }

    pub fn resources(&self) -> Resources {
        Resources::new(
            u64::from(self.cpu) * 1000,
            u64::from(self.memory_gib) * 1024,
            self.gpu,
        )
    }
}

const fn cpu(name: &'static str, cpu: u32, memory_gib: u32) -> InstanceType {
    InstanceType {
        name,
        cpu,
        memory_gib,
        gpu: 0,
        gpu_type: "",
        gpu_memory_gib: 0,
    }
}

const fn gpu(
    name: &'static str,
    cpu: u32,
    memory_gib: u32,
    gpu: u32,
    gpu_type: &'static str,
    gpu_memory_gib: u32,
) -> InstanceType {
    InstanceType {
        name,
        cpu,
        memory_gib,
        gpu,
        gpu_type,
        gpu_memory_gib,
    }
}

pub const CATALOG: &[InstanceType] = &[
    cpu("ecs.c6.large", 2, 4),
    cpu("ecs.c6.xlarge", 4, 8),
    cpu("ecs.c6.2xlarge", 8, 16),
    cpu("ecs.c6.4xlarge", 16, 32),
    cpu("ecs.g6.large", 2, 8),
    cpu("ecs.g6.xlarge", 4, 16),
    cpu("ecs.g6.2xlarge", 8, 32),
    cpu("ecs.g6.4xlarge", 16, 64),
    cpu("ecs.g7.xlarge", 4, 16),
    gpu("ecs.gn6i-c4g1.xlarge", 4, 15, 1, "NVIDIA T4", 16),
    gpu("ecs.gn6i-c8g1.2xlarge", 8, 31, 1, "NVIDIA T4", 16),
    gpu("ecs.gn6i-c16g1.4xlarge", 16, 62, 1, "NVIDIA T4", 16),
    gpu("ecs.gn6i-c24g1.6xlarge", 24, 93, 1, "NVIDIA T4", 16),
    gpu("ecs.gn6i-c40g1.10xlarge", 40, 155, 1, "NVIDIA T4", 16),
    gpu("ecs.gn6i-c24g1.12xlarge", 48, 186, 2, "NVIDIA T4", 16),
    gpu("ecs.gn6i-c24g1.24xlarge", 96, 372, 4, "NVIDIA T4", 16),
    gpu("ecs.gn6v-c8g1.2xlarge", 8, 32, 1, "NVIDIA V100", 16),
    gpu("ecs.gn6v-c8g1.4xlarge", 16, 64, 2, "NVIDIA V100", 16),
    gpu("ecs.gn6v-c8g1.8xlarge", 32, 128, 4, "NVIDIA V100", 16),
    gpu("ecs.gn6v-c8g1.16xlarge", 64, 256, 8, "NVIDIA V100", 16),
    gpu("ecs.gn6v-c10g1.20xlarge", 82, 336, 8, "NVIDIA V100", 16),
    gpu("ecs.gn6e-c12g1.3xlarge", 12, 92, 1, "NVIDIA V100", 32),
    gpu("ecs.gn6e-c12g1.6xlarge", 24, 184, 2, "NVIDIA V100", 32),
    gpu("ecs.gn6e-c12g1.12xlarge", 48, 368, 4, "NVIDIA V100", 32),
    gpu("ecs.gn6e-c12g1.24xlarge", 96, 736, 8, "NVIDIA V100", 32),
    gpu("ecs.gn7i-c8g1.2xlarge", 8, 30, 1, "NVIDIA A10", 24),
    gpu("ecs.gn7i-c16g1.4xlarge", 16, 60, 1, "NVIDIA A10", 24),
    gpu("ecs.gn7i-c32g1.8xlarge", 32, 188, 1, "NVIDIA A10", 24),
    gpu("ecs.gn7i-c48g1.12xlarge", 48, 310, 1, "NVIDIA A10", 24),
    gpu("ecs.gn7i-c56g1.14xlarge", 56, 346, 1, "NVIDIA A10", 24),
    gpu("ecs.gn7i-c32g1.16xlarge", 64, 376, 2, "NVIDIA A10", 24),
    gpu("ecs.gn7i-c32g1.32xlarge", 128, 752, 4, "NVIDIA A10", 24),
    gpu("ecs.gn7i-2x.8xlarge", 32, 128, 2, "NVIDIA A10", 24),
    gpu("ecs.gn7i-4x.8xlarge", 32, 128, 4, "NVIDIA A10", 24),
    gpu("ecs.gn7i-4x.16xlarge", 64, 256, 4, "NVIDIA A10", 24),
    gpu("ecs.gn7i-8x.16xlarge", 64, 256, 8, "NVIDIA A10", 24),
    gpu("ecs.gn7i-8x.32xlarge", 128, 512, 8, "NVIDIA A10", 24),
    gpu("ecs.ebmgn7i.32xlarge", 128, 768, 4, "NVIDIA A10", 24),
    gpu("ecs.gn7-c12g1.3xlarge", 12, 94, 1, "NVIDIA A100", 40),
    gpu("ecs.gn7-c13g1.13xlarge", 52, 378, 4, "NVIDIA A100", 40),
    gpu("ecs.gn7-c13g1.26xlarge", 104, 756, 8, "NVIDIA A100", 40),
    gpu("ecs.gn7e-c16g1.4xlarge", 16, 125, 1, "NVIDIA A100 80G", 80),
    gpu("ecs.gn7e-c16g1.8xlarge", 32, 250, 2, "NVIDIA A100 80G", 80),
    gpu("ecs.gn7e-c16g1.16xlarge", 64, 500, 4, "NVIDIA A100 80G", 80),
    gpu(
        "ecs.gn7e-c16g1.32xlarge",
        128,
        1000,
        8,
        "NVIDIA A100 80G",
        80,
    ),
    gpu("ecs.gn8is.2xlarge", 8, 64, 1, "NVIDIA L20", 48),
    gpu("ecs.gn8v.4xlarge", 16, 96, 1, "NVIDIA H20", 96),
];

pub fn find(name: &str) -> Option<&'static InstanceType> {
    CATALOG.iter().find(|t| t.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn looks_up_instance_types() {
        let c6 = find("ecs.c6.large").unwrap();
        assert_eq!(c6.resources(), Resources::new(2000, 4096, 0));
        assert_eq!(c6.accelerator_type(), "CPU");
        assert_eq!(find("ecs.gn6v-c8g1.16xlarge").unwrap().gpu, 8);
        assert!(find("ecs.nope").is_none());
        let mut names: Vec<_> = CATALOG.iter().map(|t| t.name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), CATALOG.len(), "instance types are unique");
    }
}
